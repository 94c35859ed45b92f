from django.apps import AppConfig

# How often the batch recompute runs: the incremental counts are exact, this only bounds how
# long a drift (a lost update, a cancelled order) could last.
PERIODIC_SECONDS = 600.0


class RecommendationsConfig(AppConfig):
    name = "apps.recommendations"
    label = "recommendations"
    verbose_name = "Recommendations"

    def ready(self) -> None:
        from apps.recommendations.api import router
        from apps.recommendations.provider import RecommendationsProvider
        from apps.recommendations.services import experiments, serving
        from apps.recommendations.tasks import PERIODIC_TASK
        from cleave.api import register_router
        from cleave.background import register_periodic
        from cleave.contracts.registry import provide
        from cleave.process_memory import register_forget
        from contracts.recommendations import RECOMMENDATIONS

        provide(RECOMMENDATIONS, RecommendationsProvider())
        register_router("/recommendations", router)
        register_periodic("recommendations-recompute", PERIODIC_TASK, PERIODIC_SECONDS)
        register_forget(serving.forget)
        register_forget(experiments.forget)
