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
    "hes outside my door with a bat now screaming",
    "my neighbour just collapsed in the lift and is fitting",
    "someone has set the bins alight under the stairs and the smoke is coming into the flats",
    "a man is trying to climb through my bedroom window right now",
    "my ex has my daughter and wont give her back, he's drunk and threatening to drive off with her",
    "there are 3 lads kicking a man on the ground outside the shop",
    "the xl bully from no 8 has my dog by the neck and wont let go",
    "my neighbour is standing on her balcony railing saying she wants to end it",
    "smell of gas really strong in the stairwell and someone is smoking",
    "I am hiding under the bed, someone is in the flat",
    "pls come my husband is choking me",
    "a kid has fallen in the canal by the flats and hasnt come up",
    "the man upstairs has been shouting he will kill his wife and now its gone quiet",
    "theres a car on fire in the car park next to the flats",
    "my son has been stabbed, hes bleeding on the stairs",
    "a gang with machetes is chasing a lad round the estate",
    "my mum fell down the stairs and isnt responding",
    "my neighbour has locked me out on the balcony and its freezing, he wont let me in, hes got the kids",
    "theres a guy with a gun in the play area",
    "kid on a moped just ran over an old lady on the path and drove off, shes not moving",
    "he's kicking the door in now, im in the bathroom with the baby",
    "Dear Sir, I am the support worker for Mr Khan. He has just phoned me to say there are men in his flat threatening him with a knife. I have called the police.",
    "water pouring through the ceiling onto the plug sockets and theres sparks",
    "my partner has taken an overdose and is falling asleep",
    "lads on the roof throwing tiles down onto people walking past now",
    "my neighbour is on the floor not breathing properly pls send ambulance",
    "hes got a knife to her throat in the car park",
    "thers a fire in flat 6 n smoke everywere",
    "someone kicking my door in right now",
    "i can hear a child screaming and a man shouting in the flat above, sounds like hes hitting her",
    "a lady has been hit by a car outside the flats and isnt moving",
    "my dad has taken loads of pills and wont wake up",
    "I've just been attacked by the man next door, my head is bleeding",
    "neighbours pit bull has got loose and is attacking kids on the green",
    "my friend has messaged me saying her boyfriend has locked her in and taken her phone",
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
    "the neighbours row is killing me, every night",
    "last month a man threatened me with a knife in the lift, I'm still scared",
    "fire door on the 3rd floor is propped open again",
    "he said he would stab me next time he sees me",
    "my neighbour collapsed last week and went to hospital, could you check on her flat is secure",
    "the kids were fighting in the park yesterday",
    "someone set fire to the bins last night, the fire brigade came",
    "he always waves a knife around when he's drunk, not today though",
    "i nearly had a heart attack when the alarm went off",
    "their dog attacked my cat in june",
    "kids keep climbing over the fence into my garden to get their ball",
    "when she gets in from work she slams the door",
    "shouting last night then it went quiet, its fine now",
    "my son hides in his room when the neighbours argue",
    "the boiler is leaking onto the floor",
    "there was a fire in the bin store in may",
    "he threatened to take the kids away from her in court",
    "lads were fighting in the car park on friday",
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
    "neighbour keep saying my family smell and we should go back to our country. we are from Eritrea",
    "my son is in wheelchair, boys from block C push his chair into the road and laugh",
    "they wrote P*KI on my car again last night",
    "since we put the rainbow flag up someone keeps egging our windows",
    "the woman opposite calls my daughter a freak cos she's trans, every time she walks past",
    "i wear hijab, man at bus stop by the flats pulled it and said take that off in this country",
    "my brother has downs syndrome and the lads at the shop make him dance for sweets and film it",
    "my client is deaf and the neighbour bangs on her door knowing she can't hear and then laughs with his mates",
    "He told my husband 'you people should be shot' because he's Jewish",
    "neighbour put a note under the door saying no gays in this block",
    "im polish and they keep telling me to get back on the boat",
    "every time my mum walks with her frame the kids copy her walk and shout cripple",
    "my wife is black and the man upstairs said she looks like a monkey",
    "I am writing on behalf of Mrs Begum who is a Muslim widow. Youths have been throwing bacon at her door and shouting about Allah",
    "they call my autistic son retard and throw stones at him",
    "someone sprayed a swastika on the door of the flat where the jewish family live",
    "the neighbour says her dog will 'sort out' my guide dog and laughs when i bump into the bins she leaves out",
    "he keeps saying my girlfriend isnt a real woman and that she is a bloke in a dress",
    "man next door shouts 'go home foreigner' at my kids when they play outside",
    "we are the only asian family on the street and our bins are kicked over every week, no one else",
    "neighbours son calls me a terrorist cos I have a beard and go to mosque",
    "my dad has dementia and the teenagers next door keep knocking and taking his money saying they're his friends",
    "they shouted 'dirty gyppos' at my kids on the way to school",
    "the man in 4 said he doesnt want 'them sort' living here after seeing me with my husband, we are both men",
    "my neighbour tells everyone my son is a paedo because he is autistic and doesn't look people in the eye",
    "she spat at me and said muslims are all the same",
    "i am from nigeria and my neighbour says i brought disease into the building",
    "lads on the estate keep calling my mate 'it' since he started transitioning",
    "my sister is blind and someone keeps moving her bins and her plant pots into her path so she falls over",
    "we're irish travellers and the residents group made a petition to get us off the estate",
    "pls help man downstair say i am dirty romanian gypsy n put rubbish at my door evry day",
    "my husband is sikh and teenagers pull his turban when he walk to gurdwara",
    "neighbour dont like us cos we r muslim, she tell her kids not play with mine",
    "Dear housing, I am support worker for Mr P who has learning disability. Local youths take his bank card and make him buy them alcohol.",
    "since i told ppl im bi the lads downstairs shout slag n dyke at me",
    "they left a pig head outside the mosque door this morning",
    "someone has written 'no blacks' on the lift wall next to my flat",
    "the man next door calls my son a mong and mimics his speech",
    "they keep saying we chinese bring covid and spit near my mum",
    "I'm a trans woman and the neighbour keeps calling me sir and laughing with his friends",
    "my neighbour told me people like me shouldnt be allowed to have kids because i am in a wheelchair",
    "boys throw stones at our house and shout 'allahu akbar' and make bomb noises",
    "woman at number 12 keeps telling other parents my daughter is dangerous because she has epilepsy",
    "my partner is from ghana and the neighbour keeps doing monkey impressions when he sees him",
    "they painted 'ragheads out' on our garage",
]

NOT_HATE = [
    "neighbour waiting outside for me to come out, shouting abuse",
    "the polish man next door shouts at my kids",
    "i told him to go home and sleep it off",
    "my neighbours are nigerian and lovely, i dont want to upset them but their music is loud",
    "my son is autistic. the drinkers by the shop are loud and one of them was sick on the path",
    "people going to the mosque park on our street so i cant park when i get back from work",
    "the muslim lady in flat 1 cant get her wheelchair out when the bin men get the bins out",
    "the polish family upstairs play loud music at 2am",
    "my muslim neighbour parks across my drive every day",
    "the gay couple next door argue loudly every weekend",
    "man in the wheelchair flat smokes weed on his balcony",
    "the black lads on the corner are dealing drugs",
    "I'm disabled and the noise from upstairs keeps me awake",
    "I'm Jewish and my neighbour's dog barks all day",
    "the traveller site at the end of the lane has loads of fly tipping",
    "I'm gay and my neighbour's music is too loud",
    "i'm autistic and the drilling next door at 7am is really hard for me",
    "im muslim and the lads on the bikes are revving all night",
    "the trans woman upstairs has loud parties every weekend",
    "my disabled son cant sleep because of the dog barking next door",
    "the romanian family have 10 people living in a 2 bed flat",
    "as a black woman I feel scared walking past the dealers on the corner",
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
    ("he told me to fuck off", {"verbal_abuse"}),
    ("the mum shouting shut up and slapping the baby", {"domestic_abuse"}),
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
