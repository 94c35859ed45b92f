"""tracking's tables: another context's entities by id only, never a foreign key.

Write side: consent (and its audit trail), the batch ledger that makes uploads idempotent, and
the index of device streams the inactivity task walks. The points themselves live only in the
event store, encrypted with their user's key. Read side: tables owned by projections
(apps/tracking/projections), rebuilt from the store; geofences are staff's configuration.
"""

from __future__ import annotations

from django.db import models


class Consent(models.Model):
    """Whether a user lets their location be tracked now (absent: never asked, not tracked)."""

    user_id = models.BigIntegerField(primary_key=True)
    granted = models.BooleanField(default=False)
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"user {self.user_id}: {'granted' if self.granted else 'revoked'}"


class ConsentChange(models.Model):
    """The audit trail of consent: every grant and revocation, by whom and from where."""

    user_id = models.BigIntegerField(db_index=True)
    granted = models.BooleanField()
    changed_at = models.DateTimeField()
    changed_by = models.BigIntegerField()  # the user, or the staff member in the admin
    source = models.CharField(max_length=16)  # "api", "admin"
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("-changed_at", "-id")

    def __str__(self) -> str:
        return (
            f"user {self.user_id}: {'granted' if self.granted else 'revoked'} at {self.changed_at}"
        )


class Batch(models.Model):
    """One accepted upload: a retried batch_id answers this instead of appending again. Holds
    counts and error codes, never a coordinate."""

    user_id = models.BigIntegerField()
    batch_id = models.CharField(max_length=64)
    body_hash = models.CharField(max_length=64)  # a different body under a used id: a conflict
    received_at = models.DateTimeField()
    result = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user_id", "batch_id"), name="tracking_batch_once")
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id} of user {self.user_id}"


class Device(models.Model):
    """A device stream with an open trip, for the inactivity task (kept with each append)."""

    stream = models.CharField(max_length=200, unique=True)
    user_id = models.BigIntegerField(db_index=True)
    last_point_at = models.DateTimeField(null=True)
    trip_open = models.BooleanField(default=False, db_index=True)

    def __str__(self) -> str:
        return self.stream


class Geofence(models.Model):
    """A circle staff define in the admin; visits are dwell inside it."""

    name = models.CharField(max_length=200)
    lat = models.FloatField()
    lon = models.FloatField()
    radius_m = models.FloatField()
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


# --- Read models (owned by projections) --------------------------------------------------------
class LastLocation(models.Model):
    user_id = models.BigIntegerField(unique=True)
    t = models.DateTimeField()
    lat = models.FloatField()
    lon = models.FloatField()
    accuracy = models.FloatField()
    trip_id = models.CharField(max_length=40)

    def __str__(self) -> str:
        return f"last location of user {self.user_id}"


class Trip(models.Model):
    trip_id = models.CharField(max_length=40, unique=True)
    user_id = models.BigIntegerField()
    status = models.CharField(max_length=8)  # "active", "paused", "ended"
    started_at = models.DateTimeField()
    last_point_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)
    end_reason = models.CharField(max_length=16, blank=True)
    point_count = models.IntegerField(default=0)
    distance_m = models.FloatField(default=0.0)
    path = models.JSONField(default=list)  # simplified: [[lat, lon], ...]
    track = models.JSONField(default=list)  # every point, by time: [[t_ms, lat, lon], ...]

    class Meta:
        indexes = [
            models.Index(fields=("user_id", "-started_at", "-id"), name="tracking_trip_user")
        ]

    def __str__(self) -> str:
        return f"trip {self.trip_id}"

    @property
    def duration_seconds(self) -> float:
        return ((self.ended_at or self.last_point_at) - self.started_at).total_seconds()


class GeofencePresence(models.Model):
    """Where a user stands with a geofence: inside since when (the visit projection's state)."""

    user_id = models.BigIntegerField()
    geofence_id = models.BigIntegerField()
    inside_since = models.DateTimeField(null=True)
    last_seen_at = models.DateTimeField()
    visit_id = models.CharField(max_length=40, blank=True)  # set once the dwell made it a visit

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user_id", "geofence_id"), name="tracking_presence")
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} at geofence {self.geofence_id}"


class Visit(models.Model):
    visit_id = models.CharField(max_length=40, unique=True)  # uuid5 of user, fence, entry
    user_id = models.BigIntegerField(db_index=True)
    geofence_id = models.BigIntegerField()
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"visit of user {self.user_id} to geofence {self.geofence_id}"


class AreaVisitor(models.Model):
    """Who was counted in a cell's hour (so a user counts once, and a deleted one is taken out)."""

    cell = models.CharField(max_length=16)
    hour = models.DateTimeField()
    user_id = models.BigIntegerField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("cell", "hour", "user_id"), name="tracking_visitor")
        ]

    def __str__(self) -> str:
        return f"{self.cell} at {self.hour}"


class AreaCount(models.Model):
    """Distinct visitors of an H3 resolution-8 cell in one hour ("popular near me")."""

    cell = models.CharField(max_length=16)
    hour = models.DateTimeField()
    visitors = models.IntegerField(default=0)
    published = models.BooleanField(default=False)  # AreaActivity sent for this hour

    class Meta:
        constraints = [models.UniqueConstraint(fields=("cell", "hour"), name="tracking_area_hour")]

    def __str__(self) -> str:
        return f"{self.cell} at {self.hour}: {self.visitors}"


class Share(models.Model):
    """A user shares their live location with one user or one conversation until expires_at."""

    sharer_id = models.BigIntegerField(db_index=True)
    recipient_id = models.BigIntegerField(null=True)  # a user…
    conversation_id = models.BigIntegerField(null=True)  # …or a conversation's members
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recipient_id__isnull=False, conversation_id__isnull=True)
                | models.Q(recipient_id__isnull=True, conversation_id__isnull=False),
                name="tracking_share_one_audience",
            )
        ]

    def __str__(self) -> str:
        return f"share {self.pk} of user {self.sharer_id}"
