# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Drill: Schedules and warmup
#
# Interview questions on this topic, from the bank behind `optimlab quiz --topic schedules`. Each answer
# below, with every number in it, was computed by optimlab when this page was built, by the code shown
# under it; try each question before reading on.

# %% tags=["remove-input"]
from optimlab.quiz.page import show_topic

show_topic("schedules")
