"""The interview drill: a bank of questions whose answers optimlab computes at run time
(``bank``), the terminal quiz behind ``optimlab quiz`` (``session``) and the book's drill pages
(``page``). Importing this package registers every question."""

from optimlab.quiz import adam_family, first_order, modern, schedules, systems  # noqa: F401  (registers the questions)
from optimlab.quiz.bank import BANK, TOPICS, Question, questions

__all__ = ["BANK", "TOPICS", "Question", "questions"]
