"""``/api/v1/auth/verify-email``: prove an address is yours (``auth.email_verification = on``: until then
the account cannot sign in). A code is e-mailed at registration; asking again answers 202 whatever the
address, like a password reset."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.account_mail import VERIFY, code_message
from storage import email_verification
from web.audit import audit
from web.middleware import limits, public, strict_limit
from web.openapi import Blueprint
from web.schemas.accounts import ResetRequestedSchema, ResetRequestSchema, VerifySchema
from web.services import after_answer, services

blp = Blueprint("email_verification", __name__, url_prefix="/api/v1/auth", description="E-mail verification")

CODE_TTL = timedelta(days=1)


def send_verification(email: str) -> None:
    """E-mail a new code to the unverified account with this address, if there is one."""
    found = email_verification.pending_for(email, CODE_TTL)
    if found is None:
        return
    user, token = found
    services().mailer.send(user.email, "Confirm your e-mail address for Confab", code_message(
        VERIFY, user.display_name, services().config.email.base_url, token, int(CODE_TTL.total_seconds()) // 60))


@blp.route("/verify-email", methods=["POST"])
@public
@strict_limit
@blp.arguments(VerifySchema)
@blp.response(204)
def verify(body: dict[str, Any]) -> None:
    """The address is verified; the account may sign in."""
    user_id = email_verification.verify(body["token"])
    audit("email.verified", user_id, actor_id=user_id)


@blp.route("/verify-email/resend", methods=["POST"])
@public
@strict_limit
@blp.arguments(ResetRequestSchema)
@blp.response(202, ResetRequestedSchema)
def resend(body: dict[str, Any]) -> dict[str, str]:
    """A new code (the older ones stop working) if an unverified account has the address."""
    email = body["email"].lower()
    limits().check(limits().reset_requests, f"verify:{email}")
    after_answer(send_verification, email)  # the same answer in the same time, account or not
    return {"message": "if an unverified account has this address, a code is on its way"}
