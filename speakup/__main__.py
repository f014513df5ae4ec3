"""The `speakup` command of an installed Speak Up (and `python -m speakup`): `speakup init ...` is
`flask --app wsgi speakup init ...`."""

from __future__ import annotations

import sys

from flask.cli import ScriptInfo


def main(argv: list[str] | None = None) -> None:
    from speakup import create_app
    from speakup.cli import speakup_cli

    args = sys.argv[1:] if argv is None else argv
    # The commands take the app from click's context object, as under `flask`: ScriptInfo builds it on first use.
    speakup_cli.main(args=args, prog_name="speakup", obj=ScriptInfo(create_app=create_app))


if __name__ == "__main__":
    main()
