"""Families of wording added from dev_reports_24 onwards, tried in words no report used."""

from __future__ import annotations

import pytest

from triage import classify

EMERGENCIES = [
    "hes got my son pinned to the floor in the hallway",
    "theyve got him held down outside the shop",
    "im hiding in the bedroom hes smashing up the kitchen",
    "hiding in the loft, he's downstairs",
    "my ex is outside with a can of petrol",
    "hes at the door shouting hes going to torch the flat",
    "lads brawling outside the chippy",
    "bricks flying everywhere on the green",
    "a car just mounted the kerb outside the school, kids everywhere",
    "someone has just got stabbed on the landing",
    "hes chucking bottles off the balcony onto the path right now",
    "hes texting saying im dead, hes outside now",
]

NOT_EMERGENCIES = [
    "the bass from upstairs, its killing me",
    "thats killing me honestly, 3 nights no sleep",
    "my son got beaten up by some lads last month",
    "the lads fight on the green every weekend",
    "the lads fighting in the park every saturday night are getting worse",
    "someone is nicking fuel from the vans, 4 vans now",
    "kids hiding in the bin store smoking",
    "she said he should be locked in an institution",
    "pls help we are all so stressed",
    "kids throw stones off the footbridge every night",
    "a car nearly hit my son on the estate last week, they drive too fast",
]

HATE = [
    "im black and the lads next door make monkey sound at me",
    "my husband is pakistani, neighbour threw an egg at him",
    "i have bipolar and he tells people im a loony",
    "my son is gay and the man opposite says hell beat it out of him",
    "since my daughter came out the neighbours call her names",
    "he told my mum, who is polish, to keep her dirty kids away from his house",
    "neighbour tells my wife (she is Roma) keep your thieving kids away from my car",
    "they shouted go home",
    "he shouted no mosques",
]

NOT_HATE = [
    "neighbour waiting outside for me to come out, shouting abuse",
    "the polish man next door shouts at my kids",
    "i told him to go home and sleep it off",
]


@pytest.mark.parametrize("text", EMERGENCIES)
def test_danger_now(text: str) -> None:
    assert classify(text).emergency


@pytest.mark.parametrize("text", NOT_EMERGENCIES)
def test_no_danger_now(text: str) -> None:
    assert not classify(text).emergency


@pytest.mark.parametrize("text", HATE)
def test_hate(text: str) -> None:
    assert classify(text).hate


@pytest.mark.parametrize("text", NOT_HATE)
def test_not_hate(text: str) -> None:
    assert not classify(text).hate
