"""The emulator's S3 authorization as AWS's: moto 5.2.6 authorizes each S3 request against the
name of the operation its request class is given, not the IAM action AWS checks
(`infra.engines.emulator` maps one to the other; `calibrate` tells where they still differ).
`authorize_s3_as` installs the mapping into moto while an emulator runs
(`infra.engines.moto.LocalAws`) and returns the undo."""

from __future__ import annotations

from collections.abc import Callable


def authorize_s3_as(actions: dict[str, str]) -> Callable[[], None]:
    """moto authorizes each S3 request against the action its request class is given; map it
    to AWS's (`infra.engines.emulator`) while this emulator runs. Returns the undo."""
    from moto.iam.access_control import S3IAMRequest

    original = S3IAMRequest.__init__

    def init(self, *args, **kwargs) -> None:
        if isinstance(kwargs.get("action"), str):  # else as moto gave it: `calibrate` tells
            kwargs["action"] = actions.get(kwargs["action"], kwargs["action"])
        original(self, *args, **kwargs)

    S3IAMRequest.__init__ = init

    def restore() -> None:
        S3IAMRequest.__init__ = original

    return restore
