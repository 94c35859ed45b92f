"""A saga's persisted state and its history: the run, each step's record (command, result,
attempts, timings), the signals it received, and a timeline of what happened and who did it.

The tables are the kernel's, so they exist in every context's database; a saga's rows live in
its owning context's database (`database_for(<context>)`), next to that context's own tables,
so a step's local writes commit in the same transaction as its record.
"""

from __future__ import annotations

import uuid

from django.db import models


class SagaRun(models.Model):
    class State(models.TextChoices):
        RUNNING = "running"  # a step is due, being tried, or waiting for its next try
        WAITING = "waiting"  # for a signal (the app confirmed the payment, …)
        COMPENSATING = "compensating"
        COMPLETED = "completed"
        COMPENSATED = "compensated"
        FAILED = "failed"  # a compensation gave up: an operator must look

    FINISHED = (State.COMPLETED, State.COMPENSATED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    saga = models.CharField(max_length=100)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    # The forward step the saga is at (the last one it reached once compensating).
    step = models.CharField(max_length=100)
    input = models.JSONField(default=dict)
    results = models.JSONField(default=dict)
    # Why it compensates: declined, failed, timeout, cancelled, operator.
    reason = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    # When the current step gives up (the sweeper compensates a saga stuck past it).
    deadline_at = models.DateTimeField(null=True, blank=True)
    # When a runner should look next (a retry, or a hand-off that may have been lost).
    due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "due_at"], name="cleave_saga_due"),
            models.Index(fields=["state", "deadline_at"], name="cleave_saga_deadline"),
            models.Index(fields=["saga", "-created_at"], name="cleave_saga_by_type"),
        ]

    def __str__(self) -> str:
        return f"{self.saga} {self.id} ({self.state})"


class SagaStep(models.Model):
    class Phase(models.TextChoices):
        ACTION = "action"
        COMPENSATION = "compensation"

    class Status(models.TextChoices):
        RUNNING = "running"  # tried, not finished (a failed try waits for the next one)
        DONE = "done"
        FAILED = "failed"  # gave up

    run = models.ForeignKey(SagaRun, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=100)
    phase = models.CharField(max_length=16, choices=Phase.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    attempts = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200)
    command = models.JSONField(default=dict)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "name", "phase"], name="cleave_saga_step_once")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.phase}, {self.status})"


class SagaSignal(models.Model):
    """A signal a saga received. The first one of a name counts; repeats change nothing."""

    run = models.ForeignKey(SagaRun, on_delete=models.CASCADE, related_name="signals")
    name = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="cleave_saga_signal_once")
        ]

    def __str__(self) -> str:
        return f"{self.name} for {self.run_id}"


class SagaLogEntry(models.Model):
    """The timeline (and the audit log of staff actions: `actor` names who)."""

    run = models.ForeignKey(SagaRun, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=32)
    step = models.CharField(max_length=100, blank=True)
    attempt = models.PositiveIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True)
    actor = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind} {self.step}"
