"""Families of wording behind held-out misses (v3, v4), each tried in words no report used.

Every entry is a look-alike written for the family, not a copy of the report that showed it:
the point is that reports worded differently are caught too (R-02, R-04, R-15).
"""

from __future__ import annotations

import pytest

from triage import classify

HATE = [
    # "no <group>" written up or on a sign
    "somebody has painted no travellers on the gate to the field",
    "a sign went up in the pub window saying no gypsies",
    "no blacks allowed scratched into the lift door",
    # antisemitic Holocaust references, aimed at a Jewish household
    "we are jewish and the lads on the corner make gas noises when we go past",
    "my neighbour does a nazi salute at my husband, we're jewish",
    "he shouts that hitler was right whenever we come back from synagogue",
    # slurs run together
    "they were shouting battyboys at me and my partner",
    # "LGBT agenda" and signs aimed at a gay household
    "he's put a poster in his window about the gay agenda facing our door",
    # spreading who someone is with a stereotype
    "she tells the whole street we're travellers who will nick their bikes",
    "people in the group chat say the romanians who moved in will rob us",
    "posts saying they should be sent back home about the syrian family on the top floor",
    # a group household suffering the act (passive)
    "a somali family at 4 ash grove have had bricks thrown at their windows",
    # a place of worship damaged
    "the windows of the gurdwara got smashed on saturday night",
    "someone sprayed paint over the synagogue sign",
    # disability: mocking the need ("if you're so disabled"), torment, contrast, names
    "he laughs and says if youre that disabled why are you out shopping",
    "they wobble my wheelchair and laugh until i scream",
    "i walk with a stick and the kids only do it to me, never to anyone without one",
    "they call me hopalong every time i pass with my crutches",
    "my brother is deaf and they hide his post then watch him search for it, they think its funny",
    "deaf lady at number 3, lads keep knocking and running so she opens the door and they laugh at her",
    # exploitation of someone confused or with a learning disability
    "my uncle has dementia and the man across the road now looks after his bank card",
    "my sister has a learning disability, her purse is always empty since they started visiting",
    "my client has autism and his flat has been taken over by people he met in town",
    # identity named beside a group event: "groomers"
    "someone scrawled groomers across the poster for our lgbt film night",
    # violence on a person pointed out by who they are
    "gay lad at number 12, three men have him pinned to the wall",
    # names thrown at someone, told in the passive
    "my son (deaf, 15) had freak and retard yelled at him on the bus",
    # abuse aimed at a whole group
    "men outside the synagogue chanting about jews this morning",
    "lads on the corner ranting at the polish families going into the shop",
    # censored slurs written out in stars
    "he keeps shouting p*** at my dad through the fence",
    # mental health slurs with "should be locked up"
    "she calls my brother a loony in front of everyone and says he needs to be sectioned",
    "upstairs keeps saying im a psycho who should be locked up in a nut house",
    # taking up or leaving a faith
    "ever since i started wearing a headscarf the man downstairs makes remarks",
    "i converted to islam last year and my neighbour calls me a traitor and an apostate",
    # slur spellings
    "they call us the lezzers and laugh",
    # "people like you taking over", spitting beside someone, "on about me being ..."
    "i wear a turban and the woman next door says people like you are taking over",
    "she goes on about me being polish every time she sees me",
    # disability services reporting for a client; age and condition in brackets
    "I am from the community mental health team. My client's neighbours take his money and call him names",
    "a lad we support (22, learning disabled) is being made to buy drinks for a group who film him",
]

NOT_HATE = [
    # leaving the flat is not "coming out"
    "hes banging on the door telling me to come out so he can smash my face in",
    "they are waiting for my son to come out of the flat so they can jump him",
    "he keeps saying he will get me when i come out",
    # the reporter says it is not about who they are
    "im black but i honestly dont think thats got anything to do with it, he shouts at everyone",
    # theft of a badge or group mentioned with no hostility
    "my car was broken into and they took my blue badge and the sat nav",
    "the jewish family upstairs have a party every saturday night",
    "the mosque car park is full every friday and people block my drive",
    "the polish man at number 6 parks across my drive",
    # cigarettes, and a reporter who cannot talk now
    "bloke selling cheap fags out of his van by the shops",
    "im texting because i cant talk on the phone, theres a fight on the landing",
]

EMERGENCIES = [
    # graffiti words beside a fire are not a message sent earlier
    "flames coming under the door, somebody wrote scum on our wall, we are inside",
    # the reporter is inside with someone to protect
    "hes hammering on the windows with a bat and im in the bedroom with my son",
    "my ex is trying to get in. we are upstairs with the baby",
    # hedged weapons
    "lad in the park waving what looks like a machete at people",
    "someone is pointing a gun out of the window of flat 7",
    # forcing a way in, an order breached
    "there are two men trying to force the back door of number 9",
    "he has turned up outside my flat even though he has a restraining order, hes banging on the door",
    # a dog holding someone
    "staffy has got the little boys leg on the green, it wont let go",
    # things being smashed now, written in secret
    "my husband is drunk and hes smashing up the kitchen. i cant talk",
    "hes wrecking the place. kids in the bedroom with me, cant speak he'll hear",
    # fire pushed through a door
    "someone has shoved lit rags through our letterbox",
    # someone lying hurt, children asleep in the home
    "fight by the garages, a man is lying on the ground and not getting up",
    "somebody is setting fire to newspaper and posting it through the door, the kids are asleep",
    # misspelt break-ins, people held in their own home
    "there tryin 2 brake in the back door now, im upstairs",
    "my nan is being held in her own flat by two lads who took her phone so she cant call anyone",
]

NOT_EMERGENCIES = [
    # a worry about what may be going on, heard often
    "most nights there are screams from upstairs and i worry that she is being hurt",
    "they row every weekend and im concerned someone might get hurt one day",
    # controlling behaviour, not held in right now
    "my partner doesnt let me go out with my friends and checks my phone",
    # graffiti and smoke of everyday kinds
    "someone wrote rude words on the garages last week",
    # bonfires and smoke of rubbish; cannabis smoke and long-term breathing conditions
    "the man at 9 burns rubbish in his garden every weekend and the smoke comes in our windows",
    "the weed smoke from downstairs is so bad my son with asthma is struggling to breathe at night",
    # reassurance and avoidance
    "they argue a lot but I dont think anyone is getting hurt, its just loud",
    "ive stopped answering the door because the kids keep knocking and running",
    # a repeat, access, the past
    "next door are having a bonfire again, 4th time this month, smoke all over my washing",
    "since my stroke i cant get up the steps because of the prams left there",
    "for weeks there have been people fighting on the landing at all hours",
    "they leave bottles on the wall every weekend. Last saturday they were still there at 2am.",
    # attracting is not attacking
    "the rubbish by the bins is attracting rats and foxes",
]

EVERYDAY = [
    # repairs, in the home or the block
    ("the entry buzzer for our block has not worked since march", True),
    ("our heating has not been working properly for a fortnight", True),
    # children being children
    ("the little girl upstairs rolls her toys across the floor before bedtime", True),
    ("kids drew on the path with chalk, it comes off in the rain", True),
    ("their footballs keep coming over my hedge in the summer", True),
    # appliances in the evening, not late
    ("upstairs runs the dishwasher every night at 8 and it rattles my glasses", True),
    ("washing machine next door every night at 3am", False),
    # no conduct at all, or asking whether it counts
    ("the man opposite has loads of piercings and looks rough but he hasnt actually done anything", True),
    ("the lady in 5 has never been rude or anything, she just talks to herself in the hall", True),
    ("she walks past without saying hello, would that be classed as harassment?", True),
    # lawful parking and works, early bins
    ("visitors to number 8 park legally on the road but its where i like to park", True),
    ("the contractors on the new flats start at 8am on weekdays with a generator", True),
    ("builders start at 7am on a sunday with a drill", False),
    ("the family at 6 put their bins out the day after collection every time", True),
    ("the smoke alarm next door goes off when they burn the toast", True),
]


@pytest.mark.parametrize("text", EMERGENCIES)
def test_danger_now_family(text: str) -> None:
    assert classify(text).emergency


@pytest.mark.parametrize("text", NOT_EMERGENCIES)
def test_no_danger_now_family(text: str) -> None:
    assert not classify(text).emergency


@pytest.mark.parametrize("text", HATE)
def test_hate_family(text: str) -> None:
    assert classify(text).hate


@pytest.mark.parametrize("text", NOT_HATE)
def test_not_hate_family(text: str) -> None:
    assert not classify(text).hate


@pytest.mark.parametrize(("text", "everyday"), EVERYDAY)
def test_everyday_living_family(text: str, everyday: bool) -> None:
    assert classify(text).not_asb is everyday
