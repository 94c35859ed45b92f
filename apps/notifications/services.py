"""notifications' writes: the device read model, the inbox, pushes, preferences."""

from __future__ import annotations

import logging
import zoneinfo
from datetime import datetime, time, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.notifications.models import Burst, DeliveryAttempt, Device, InboxItem, Mute, Preferences
from apps.notifications.providers import Outcome, Push, provider_for
from cleave.contracts.registry import client
from cleave.databases import database_for
from cleave.realtime import push as socket_push
from cleave.realtime import user_stream
from cleave.realtime.presence import online_now
from contracts.identity import IDENTITY, IdentityService, UserGet, UserNotFound, UserProfile

logger = logging.getLogger(__name__)
DB = database_for("notifications")
BURST_WINDOW = timedelta(seconds=60)


def device_upsert(*, user_id: int, device_id: str, platform: str, push_token: str | None) -> None:
    with transaction.atomic(using=DB):
        device, _ = (
            Device.objects.using(DB)
            .select_for_update()
            .get_or_create(user_id=user_id, device_id=device_id, defaults={"platform": platform})
        )
        device.platform = platform
        if push_token is not None:
            device.push_token, device.token_valid = push_token, bool(push_token)
        device.updated_at = timezone.now()
        device.save(using=DB)


def timezone_set(*, user_id: int, timezone_name: str) -> None:
    Preferences.objects.using(DB).update_or_create(
        user_id=user_id, defaults={"timezone": timezone_name}
    )


def user_erase(*, user_id: int) -> None:
    with transaction.atomic(using=DB):
        for model in (Device, InboxItem, Mute, Burst, Preferences):
            model.objects.using(DB).filter(user_id=user_id).delete()


def _in_quiet_hours(prefs: Preferences | None, at: datetime) -> bool:
    if prefs is None or prefs.quiet_start is None or prefs.quiet_end is None:
        return False
    local = at.astimezone(zoneinfo.ZoneInfo(prefs.timezone)).time()
    start, end = prefs.quiet_start, prefs.quiet_end
    return start <= local < end if start <= end else (local >= start or local < end)


def message_notify(
    *, conversation_id: int, sender_id: int, recipient_ids: list[int], preview: str, seq: int
) -> None:
    """A message arrived: an inbox item for each recipient, and a push to those not connected.
    Both are titled with the sender's name (from identity; "New message" when it is unknown)."""
    online = set(online_now(recipient_ids))
    title = _sender_name(sender_id) or "New message"
    for user_id in recipient_ids:
        with transaction.atomic(using=DB):
            item = InboxItem.objects.using(DB).create(
                user_id=user_id,
                kind="message",
                title=title,
                body=preview,
                data={"conversation_id": conversation_id, "seq": seq, "sender_id": sender_id},
            )
            payload = {"id": item.pk, "kind": item.kind, "body": item.body, "data": item.data}
            transaction.on_commit(
                partial(socket_push, user_stream(user_id), "notification.new", payload), using=DB
            )
            if user_id in online:
                continue  # the app is open on a socket: the frame is enough
            count = _burst_count(user_id, conversation_id)
        if count:
            _push_after_commit(user_id, conversation_id, title, preview, count)


def invitation_notify(
    *, user_id: int, conversation_id: int, invitation_id: int, invited_by: int, title: str
) -> None:
    """Someone was invited to a group: an inbox item, a frame to their open sockets, and a push
    to their devices when none is open (not in quiet hours)."""
    name = _sender_name(invited_by) or "Someone"
    body = f"{name} invited you to {title}" if title else f"{name} invited you to a group"
    data = {
        "conversation_id": conversation_id,
        "invitation_id": invitation_id,
        "invited_by": invited_by,
    }
    with transaction.atomic(using=DB):
        item = InboxItem.objects.using(DB).create(
            user_id=user_id, kind="invitation", title="New invitation", body=body, data=data
        )
        payload = {"id": item.pk, "kind": item.kind, "body": item.body, "data": item.data}
        transaction.on_commit(
            lambda: socket_push(user_stream(user_id), "notification.new", payload), using=DB
        )
    if online_now([user_id]):
        return  # the app is open on a socket: the frame is enough
    prefs = Preferences.objects.using(DB).filter(user_id=user_id).first()
    if not _in_quiet_hours(prefs, timezone.now()):
        _push_after_commit(user_id, conversation_id, "New invitation", body, 1)


def _unknown_sender(query: UserGet, error: Exception) -> UserProfile:
    # identity unreachable: notify anyway, untitled, rather than hold every notification back.
    return UserProfile(id=query.user_id, email="", display_name="", is_active=True)


_identity = client(IDENTITY, IdentityService, fallbacks={"user_get": _unknown_sender})


def _sender_name(sender_id: int) -> str:
    try:
        return _identity.user_get(UserGet(user_id=sender_id)).display_name
    except UserNotFound:
        return ""  # an account deleted since: its messages are still delivered


def _burst_count(user_id: int, conversation_id: int) -> int:
    """How many messages this push speaks for, or 0 inside a burst window (just counted)."""
    now = timezone.now()
    if Mute.objects.using(DB).filter(user_id=user_id, conversation_id=conversation_id).exists():
        return 0
    if _in_quiet_hours(Preferences.objects.using(DB).filter(user_id=user_id).first(), now):
        return 0
    burst, created = (
        Burst.objects.using(DB)
        .select_for_update()
        .get_or_create(
            user_id=user_id,
            conversation_id=conversation_id,
            defaults={"window_started_at": now, "pending": 0},
        )
    )
    if not created and now - burst.window_started_at < BURST_WINDOW:
        burst.pending += 1
        burst.save(using=DB, update_fields=["pending"])
        return 0
    count = burst.pending + 1
    burst.window_started_at, burst.pending = now, 0
    burst.save(using=DB, update_fields=["window_started_at", "pending"])
    return count


def _push_after_commit(
    user_id: int, conversation_id: int, title: str, preview: str, count: int
) -> None:
    """Send the push once the caller's transaction (the subscriber's inbox transaction)
    commits, and only if it does: a batch the bus rolls back and re-applies event by event
    pushes once (issue 18), since Django drops the callbacks of a savepoint that rolls back."""
    # Sent by this process after commit rather than by a task enqueued on commit: the events
    # worker made these calls before (inside the transaction, holding its row locks), so it does
    # no more work than it did, with no broker round trip per push and no push context (device,
    # text) in the broker. A task would take the providers' latency off the ordered events
    # queue: the next step if pushes per batch grow. Either way a process killed between commit
    # and send loses that push (the inbox item is committed and the badge counts it): at most
    # once, which we prefer to a notification pushed twice.
    # robust: a failure here (the attempt's row, say) is logged and the batch's other pushes
    # still go; raised, it would skip them, and the redelivered batch would find its inbox rows.
    transaction.on_commit(
        lambda: _push_to_devices(user_id, conversation_id, title, preview, count),
        using=DB,
        robust=True,
    )


def _push_to_devices(
    user_id: int, conversation_id: int, title: str, preview: str, count: int
) -> None:
    """Send to each of the user's devices with a valid token and record the attempt; runs after
    commit (each write its own transaction), so a failure here undoes nothing already done."""
    provider = provider_for(settings.CLEAVE_PUSH_PROVIDER)
    body = preview if count == 1 else f"{count} new messages"
    push = Push(title=title, body=body, data={"conversation_id": str(conversation_id)})
    devices = (
        Device.objects.using(DB).filter(user_id=user_id, token_valid=True).exclude(push_token="")
    )
    for device in devices:
        try:
            outcome = provider.send(platform=device.platform, token=device.push_token, push=push)
        except Exception as error:  # one device's failure must not cost the others their push
            logger.exception("push to device %s failed", device.device_id)
            outcome = Outcome(ok=False, response=f"{type(error).__name__}: {error}")
        DeliveryAttempt.objects.using(DB).create(
            device=device,
            provider=provider.name,
            title=push.title,
            body=push.body,
            ok=outcome.ok,
            status=outcome.status,
            response=outcome.response[:2000],
        )
        if outcome.token_invalid:
            Device.objects.using(DB).filter(pk=device.pk).update(token_valid=False)
            logger.info(
                "push token of device %s refused by %s: deactivated",
                device.device_id,
                provider.name,
            )


def inbox_read(*, user_id: int, item_id: int | None) -> int:
    """Mark one item (or all, with None) read; returns how many changed."""
    items = InboxItem.objects.using(DB).filter(user_id=user_id, read_at__isnull=True)
    if item_id is not None:
        items = items.filter(pk=item_id)
    moment = timezone.now()
    return items.update(read_at=moment, changed_at=moment)


def preferences_update(
    *,
    user_id: int,
    quiet_hours: tuple[time | None, time | None] | None,
    mute: list[int],
    unmute: list[int],
) -> Preferences:
    """`quiet_hours`: (start, end) to set, (None, None) to clear, None to leave as they are."""
    with transaction.atomic(using=DB):
        prefs, _ = Preferences.objects.using(DB).select_for_update().get_or_create(user_id=user_id)
        if quiet_hours is not None:
            prefs.quiet_start, prefs.quiet_end = quiet_hours
            prefs.save(using=DB, update_fields=["quiet_start", "quiet_end"])
        for conversation_id in mute:
            Mute.objects.using(DB).get_or_create(user_id=user_id, conversation_id=conversation_id)
        Mute.objects.using(DB).filter(user_id=user_id, conversation_id__in=unmute).delete()
    return prefs
