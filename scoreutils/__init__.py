"""scoreutils: the shared code of the SCoRe kit (Kumar et al., 2024, "Training Language Models to
Self-Correct via Reinforcement Learning"): loading, tasks, prompts, rollout, rewards, metrics, losses,
training loops and plots. Notebooks import from here; `python -m scoreutils` is the CLI.
"""
from .config import PROFILES, Profile, default_profile, get_profile, silence_known_warnings

silence_known_warnings()  # first: before the dependencies load

from .metrics import changed_answer_rate, edit_distance_ratio, episode_metrics, self_correction_metrics
from .models import Policy, load_policy
from .rewards import binary_reward
from .rollout import Episode, sample_episodes
from .tasks import LEVELS, Problem, load_task

__all__ = ["PROFILES", "Profile", "default_profile", "get_profile", "changed_answer_rate",
           "edit_distance_ratio", "episode_metrics", "self_correction_metrics", "Policy", "load_policy",
           "binary_reward", "Episode", "sample_episodes", "LEVELS", "Problem", "load_task"]
__version__ = "0.1.0"
