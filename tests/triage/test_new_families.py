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
    "hes threatening to stab me if i dont open the door, hes in the hallway",
    "my client has just messaged me to say her ex is outside with a knife",
    "sparks coming out of the socket in the hall and the lights are flickering",
    "her ex has got into the flat, locked the doors and taken the keys",
    "man on the 8th floor balcony says hes going to jump",
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
    "he said he would kill me if i called the police",
    "he texted me saying he will stab me when he sees me",
    "can you get the police to patrol the park at night",
    "they have been fitting a new kitchen all week, drilling now",
    "nothings on fire now but he burns rubbish every week",
    "on the night of the 5th his car was set alight, police are investigating",
    "my son was punched after his football hit the mans car, two weeks ago now, he is fine now",
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
    "we are sikh and the man next door keeps shouting stop your stupid prayers",
    "I'm Muslim and I think he hates our religion, he bangs on the wall when we pray",
    "his so called friends are taking advantage of his learning disability",
    "i think this is mate crime, they take his money every week",
]

NOT_HATE = [
    "neighbour waiting outside for me to come out, shouting abuse",
    "the polish man next door shouts at my kids",
    "i told him to go home and sleep it off",
    "my neighbours are nigerian and lovely, i dont want to upset them but their music is loud",
    "my son is autistic. the drinkers by the shop are loud and one of them was sick on the path",
    "people going to the mosque park on our street so i cant park when i get back from work",
    "the muslim lady in flat 1 cant get her wheelchair out when the bin men get the bins out",
]


CATEGORIES = [
    ("someone has been siphoning diesel out of the vans in the yard", {"criminal_behaviour"}),
    ("parcels keep going missing from the lobby, someone is nicking them", {"criminal_behaviour"}),
    ("older lads made my son hand over his phone on the way home", {"criminal_behaviour"}),
    ("two quad bikes doing doughnuts on the playing field every evening", {"vehicle_nuisance"}),
    ("he runs a car repair business from the street, cars everywhere", {"vehicle_nuisance"}),
    ("he chucks his rubbish over the fence into our garden", {"litter_fly_tipping"}),
    ("neighbour keeps 30 chickens and the droppings are all over the path", {"animal_nuisance"}),
    ("two dogs fighting on the green, owners nowhere", {"dangerous_dogs"}),
    ("someone has done a new tag on the shutters of the shop", {"graffiti"}),
    ("drunks on the bench all day shouting at people", {"drugs_alcohol"}),
    ("chavs hanging round the precinct every night", {"youth_disorder"}),
    ("someone lobbed a brick through our front window", {"property_damage", "criminal_behaviour"}),
    ("kids firing rockets at the flats", {"youth_disorder"}),
    ("someone keeps setting off the fire alarm in the block", {"communal_areas_misuse"}),
    ("my husband hides my medication and locks me in the bedroom", {"domestic_abuse"}),
    ("my ex keeps sending me photos of my car", {"domestic_abuse"}),
    ("he told me i wont live to see christmas", {"violence_threats"}),
    ("hell stab you he said, hes a nutter", {"violence_threats"}),
    ("my mate said he'll kill me if i beat him at darts again", {"not_asb", "violence_threats"}),
    (
        "kids in school uniform buying vodka and fags from flat 3 through the letterbox",
        {"criminal_behaviour", "drugs_alcohol"},
    ),
    (
        "he drinks all day and is often asleep across the doorway of the block",
        {"drugs_alcohol", "communal_areas_misuse"},
    ),
    ("lad upstairs shouts into his headset playing games till 3am", {"noise"}),
    (
        "a van is always parked across the dropped kerb so i cant get my wheelchair out",
        {"vehicle_nuisance"},
    ),
    (
        "he hasn't threatened me but he swears at me every day over the fence",
        {"verbal_abuse", "harassment_intimidation"},
    ),
    (
        "he swears at mrs patel every time she puts her bins out",
        {"verbal_abuse", "harassment_intimidation"},
    ),
    ("he came out waving a machete at the kids on the green", {"violence_threats"}),
    (
        "lads beat up my daughter outside school, she has a bruise on her cheek",
        {"violence_threats", "youth_disorder"},
    ),
    ("girl from no 5 punched my daughter, bruise on her face", {"violence_threats"}),
    ("he shouts you old cow at my nan every day", {"verbal_abuse", "harassment_intimidation"}),
]


EVERYDAY = [
    (
        "he parks across my drive every morning so i cant get out, its not a marked bay but he blocks me in",
        False,
    ),
    ("its their sons birthday party again, third weekend running, music till 4am", False),
    ("loads of visitors all hours, cars pulling up for five minutes then leaving", False),
    ("boiler broke and now the man upstairs keeps banging on my door shouting", False),
    ("oh wait he is back and hes got a knife", False),
    ("neighbour practises drums at 2am every night", False),
    ("they had a 40th last night and someone smashed my car window", False),
    ("visitor bay always taken by the dealer from no 6, cars in and out all night", False),
    ("the lads next door put up shelves at midnight every night banging", False),
    ("my neighbours dog barks all day when they are at work", False),
    ("the couple upstairs walk round in heels all afternoon", True),
    ("boiler has broken and nobody has come to fix it", True),
    ("he always parks in front of my house, I know its not my space", True),
    ("screaming next door!! oh wait its the football, ignore me", True),
    ("the neighbours are having a barbecue for their daughters 21st", True),
    ("they ignore me and then their son spat at me in the hallway", False),
    ("is there a rule about someone dealing drugs from the flat upstairs", False),
    ("they turned everyone against me and now they put dog mess through my door", False),
    ("the dog barks when the postman comes and then went for him and bit his leg", False),
    ("builders next door work from 8 till 5 but yesterday one threatened me", False),
    ("i dont think its deliberate but the music is blasting at 3am every night", False),
    ("she used to take in my parcels but now she has gone a bit cold with me", True),
    ("is there a rule about smoking in your own garden? the smell gets on my washing", True),
    ("family next door hoover at 8pm every night", True),
    ("family next door hoover at 11pm every night", False),
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


@pytest.mark.parametrize(("text", "expected"), CATEGORIES)
def test_category(text: str, expected: set[str]) -> None:
    assert classify(text).category.value in expected


@pytest.mark.parametrize(("text", "everyday"), EVERYDAY)
def test_everyday_living(text: str, everyday: bool) -> None:
    assert classify(text).not_asb is everyday
