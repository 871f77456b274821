"""scoreutils: the shared code of the SCoRe kit (Kumar et al., 2024, "Training Language Models to
Self-Correct via Reinforcement Learning"): loading, tasks, prompts, rollout, rewards, metrics, losses,
training loops and plots. Notebooks import from here; `python -m scoreutils` is the CLI.
"""
from . import quiet  # noqa: F401  (first: known-harmless dependency warnings, silenced narrowly)
from .config import PROFILES, Profile, default_profile, get_profile
from .metrics import changed_answer_rate, edit_distance_ratio, episode_metrics, self_correction_metrics
from .models import Policy, load_policy
from .rewards import score
from .rollout import Episode, sample_episodes
from .tasks import LEVELS, Problem, load_task

__all__ = ["PROFILES", "Profile", "default_profile", "get_profile", "changed_answer_rate",
           "edit_distance_ratio", "episode_metrics", "self_correction_metrics", "Policy", "load_policy",
           "score", "Episode", "sample_episodes", "LEVELS", "Problem", "load_task"]
__version__ = "0.1.0"
