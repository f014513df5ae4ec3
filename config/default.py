"""Every setting with a safe default: the keys of speakup/defaults.py, where they are written (and shipped inside the
package). Override any of them with SPEAKUP_<KEY> in the environment."""

from speakup.defaults import *  # noqa: F403 - the settings' stable name (docs/interface.md)
