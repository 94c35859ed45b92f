"""A fake messaging (its contract's Protocol) for conversation shares: members by conversation."""

from __future__ import annotations

from contracts.messaging import (
    ConversationGet,
    ConversationMembers,
    Membership,
    MembershipGet,
    Memberships,
    MembershipsGet,
)


class FakeMessaging:
    def __init__(self) -> None:
        self.members: dict[int, list[int]] = {}

    def membership_get(self, query: MembershipGet) -> Membership:
        member = query.user_id in self.members.get(query.conversation_id, [])
        return Membership(
            conversation_id=query.conversation_id, user_id=query.user_id, is_member=member
        )

    def conversation_members(self, query: ConversationGet) -> ConversationMembers:
        ids = self.members.get(query.conversation_id, [])
        return ConversationMembers(conversation_id=query.conversation_id, user_ids=ids)

    def memberships_get(self, query: MembershipsGet) -> Memberships:
        found = []
        for conversation_id in query.conversation_ids:
            members = [u for u in query.user_ids if u in self.members.get(conversation_id, [])]
            if members:
                found.append(ConversationMembers(conversation_id=conversation_id, user_ids=members))
        return Memberships(conversations=found)
