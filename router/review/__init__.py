"""Config review: what a change from one config to another does (room: review; imports
config.model, core, alerts, errors).

Pure, as core is: two built configs and the instant to look from come in, a `Review` value
goes out (compare.py), with its text, Markdown and JSON views (report.py). `router diff`
(cli/diff.py) loads the configs, runs the test files' cases through both with `router
test`'s runner, and prints the review.
"""
