"""`router import alertmanager`: an `alertmanager.yml` becomes router's config files.

The routing tree (routes.py) is flattened into router's ordered rules so that every label set
notifies the same receivers; receivers become channels; inhibit rules, time intervals and
global settings carry over; report.py collects what happened to each part, by the line of
the Alertmanager file it came from.
"""
