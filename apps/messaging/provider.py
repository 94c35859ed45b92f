"""messaging's implementation of `contracts.messaging.MessagingService`."""

from __future__ import annotations

from apps.messaging import selectors
from contracts.messaging import (
    ConversationGet,
    ConversationMembers,
    Membership,
    MembershipGet,
    Memberships,
    MembershipsGet,
)


class MessagingProvider:
    def membership_get(self, query: MembershipGet) -> Membership:
        member = selectors.member_exists(
            conversation_id=query.conversation_id, user_id=query.user_id
        )
        return Membership(
            conversation_id=query.conversation_id, user_id=query.user_id, is_member=member
        )

    def conversation_members(self, query: ConversationGet) -> ConversationMembers:
        ids = selectors.member_id_list(conversation_id=query.conversation_id)
        return ConversationMembers(conversation_id=query.conversation_id, user_ids=ids)

    def memberships_get(self, query: MembershipsGet) -> Memberships:
        found = selectors.member_pairs_list(
            conversation_ids=query.conversation_ids, user_ids=query.user_ids
        )
        return Memberships(
            conversations=[
                ConversationMembers(conversation_id=conversation_id, user_ids=user_ids)
                for conversation_id, user_ids in found.items()
            ]
        )
