"""How ``docent eval --answers`` scores an answer against SQuAD's gold answers."""

from __future__ import annotations

from api.eval import contains_answer, normalize_answer


def test_gold_answers_count_only_as_whole_words() -> None:
    assert contains_answer(normalize_answer("It opened in 1990."), ["1990"])
    assert not contains_answer(normalize_answer("It opened in 1990."), ["1"])
    assert not contains_answer(normalize_answer("Francesco wrote it."), ["France"])
    assert not contains_answer(normalize_answer("The answer."), ["the"])  # normalises to nothing
