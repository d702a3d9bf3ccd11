"""Exposure triage: a pre-screen that predicts each task's E0/E1/E2 label from the team's own labelled
tasks (classifier.py), measures itself under cross-validation grouped by job (evaluation.py), and is run
for a team on a worker (service.py)."""
