"""Immediate danger (R-02): happening now, not past threats or figures of speech."""

from __future__ import annotations

import pytest

from triage import classify

EMERGENCIES = [
    ("hes outside my door rn with a knife pls help", "weapon"),
    ("he's got a knife", "weapon"),
    ("theres a fire in the bin store and smoke coming up the stairs", "fire"),
    ("the flat below is on fire!!", "fire"),
    ("strong smell of gas on our landing", "fire"),
    ("my partner is threatening me and won't let me leave the flat", "trapped"),
    ("my husband has locked me in the bedroom", "trapped"),
    ("there is a man smashing car windows in the car park right now", "damage"),
    ("my ex is kicking my door in right now", "break_in"),
    ("someone is trying to break in to my flat, im hiding in the bathroom", "break_in"),
    ("neighbours dog is attacking my little boy HELP", "dog_attack"),
    ("i can hear a woman screaming for help in flat 6", "distress"),
    ("a man on the landing has collapsed and isn't breathing", "medical"),
    ("I can't breathe, he had his hands round my neck", "medical"),
    ("he just stabbed someone outside the shop theres blood everywhere", "weapon"),
    ("neighbour banging on my door right now shouting hes going to kill me", "threat"),
    ("my neighbour is beating his wife, i can hear it through the wall now", "violence"),
    ("2 men fighting in the car park one has a machete", "weapon"),
    ("ex bf outside my flat now screaming hes gonna kill me", "threat"),
    ("the dog from next door has got my cat and is mauling it now", "dog_attack"),
    ("theres a man on the roof of the flats threatening to jump", "medical"),
    ("my husband is drunk and says he will kill me tonight, he has a knife", "weapon"),
    ("he's strangling her in the car park come quick", "violence"),
]

DANGER_IN_OTHER_WORDS = [
    "There's someone banging on my door screaming they'll kill me, I'm so scared",
    'my neighbour is trying to kick my door down',
    'he has a gun',
    "I've been stabbed",
    'the youths are throwing bricks at my windows right now',
    "my daughter has been attacked by a dog, there's blood everywhere",
    "he's punching me",
    "I'm locked in the bathroom he is outside",
    "someone is following me home now, I'm scared",
    'a car is on fire in the car park',
    "they're fighting on the landing with bats",
    'smell of burning coming from next door and the alarm is going off',
    "man passed out in the lift, can't wake him",
    'help my neighbour is attacking me',
    "my son's been beaten up outside and he's bleeding badly",
    # present danger in other grammar: progressive, "just", holds, people lying hurt
    "theres a lad waving a machete about on the green",
    "some1 just got glassed outside the pub, claret everywhere",
    "hes got hold of her by the hair and is dragging her down the path",
    "my mum is lying at the bottom of the stairs and won't answer me",
    "he's overdosed, his lips are going blue",
    "someone's taken something in the lift and is foaming at the mouth",
    "a man just forced his way into my flat and he's in my kitchen",
    "someone is trying the handle on my back door, I live alone",
    "he locked the door and took the key, I can't get out",
    "strong gas smell on the stairs and he says he's going to light it",
    "my neighbour's house is filling up with smoke",
    "the guy on the balcony is shouting he'll jump",
    "dog has a little boy pinned down on the grass and the owner can't get it off",
    "they're throwing bricks at my window now, the kids are screaming",
    "I can hear things smashing next door and her screaming help",
    "his partner has her by the throat in the car park",
    "someone has set fire to the door of the flat opposite",
    "I can see smoke coming from their kitchen window and nobody is answering",
    "my door has been forced and someone is still inside, I can hear them upstairs",
    "a pitbull is loose in the playground going for the kids",
    "the old man downstairs has fallen and can't get up, I can hear him shouting",
    "my neighbour's toddler has drunk bleach, the ambulance isn't here yet",
    # panic phrasing: just happened, back any minute, smoke spreading, a dog going for someone
    "he just punched me and went out, he'll be back in 5 mins",
    "somebodys been stabbed on the landing",
    "smoke all through the stairwell and i cant get down",
    "the staffie from 4 has just gone for a kid at the bus stop",
    "next doors dog has got my cat in its mouth in our garden",
    "my old neighbour fell on the stairs and isn't getting up",
    "my ex is in the back garden trying the doors",
    "lads on the roof dropping bricks on people below",
    "she's locked in the bedroom by him and texting me from under the bed",
    "I'm shut in the toilet, he's kicking the door and says he'll stab me when he gets in",
    "lads outside with baseball bats smashing up the cars, going for the houses next",
    "her ex is trying to drag the little boy into his van",
    "they're throwing petrol bombs at the flat opposite",
    "big fight outside the pub with glasses, a lad is on the ground bleeding",
    "my son has just been robbed at knifepoint and they're still by the shop",
    "heard screaming then a loud bang next door and now it's all gone quiet",
    "he's broken in and he's upstairs with the kids",
    "a gang of lads attacking an old man at the bus stop, he's on the floor",
    "just been bitten by the staffy from number 6 and it's still loose on the path",
    "two dogs ripping a cat apart on the green and kids watching",
    "my mum has fallen in the bath and isn't answering me, the door is locked",
    "hes gt a nife n hes bangin on my door",
    "cnt breath hes sat on me",
    "a car has just ploughed into the kids at the bus stop",
    "they pushed a lad into the canal and he's not come back up",
    "a little boy is hanging out of the top floor window",
]

NOT_EMERGENCIES = [
    'the youths were throwing bricks at windows last week',
    'he has a gun licence and goes shooting at weekends I think',
    "I've been stabbed in the back by my so called friend who told the neighbour",
    'my head is pounding from the bass',
    "the neighbour's dog attacked my cat last year",
    'people fighting in the street most weekends',
    'I want to report a fire hazard: bikes stored in the escape route',
    "the noise from upstairs is killing me, every night till 3am",
    "the noise is killing me",
    "fire alarm testing every monday morning in our block",
    "fire doors propped open on every landing",
    "nabour threatend 2 stab me last week",
    "neighbour threatened to burn my car",
    "Three weeks ago my neighbour threatened me with a hammer. Police have a crime ref.",
    "somebody set fire to the bins behind the shops last weekend",
    "kids setting off fireworks in the street every night this week",
    "my neighbours dog bit my son last month and its still off the lead",
    "I was assaulted by the man at number 4 on Saturday night",
    "they smoke weed on the balcony and the smell comes into my flat",
    "im dying for some sleep, their music is on constantly",
    "I could kill him, his music is so loud",
    "he didn't have a knife but he was shouting",
    "smoke from their bbq comes in my windows every weekend",
    "can you help me with a noise problem please",
    "the drugs den next door had a police raid yesterday",
    # fears of what may happen, figures of speech, pleas that are not about danger
    "I'm scared he might come back with a knife one day",
    "I am worried they will start a fire in the empty flat",
    "the lift is broken and I'm stuck in my flat because of my legs",
    "This is the fourth time I've emailed about the bins, please send someone this week",
    "she is refusing to go to school now because of the bullying",
    "just got back and someone has smashed my kitchen window",
    "someone kicked in the door entry panel again, the front door won't lock now",
    "the son plays shooting games with the sound up until 2am",
    "we are being pushed out of our home by the neighbours",
    "he texted me saying he's going to smash my face in next time he sees me",
    "the dog at 12 is always going for people when it gets out",
    "the man at 6 has a sword collection on his wall which makes me nervous",
    "the bin store door is always propped open with a brick",
    "the family at 3 had a wake, lots of people in the garden until late",
    "there's a man with a chainsaw in the car park, oh wait it's the tree surgeon, ignore me",
    "my door was kicked twice in the night last month",
    "kids followed me home from school calling me names and said they know where I live now",
    "I had a stroke and can't get up the stairs because of the prams in the hall",
    "his dog went for mine at the park on Sunday, nobody hurt",
    "the kids have been throwing fireworks at the bungalows every night this week",
    "someone torched a car on the estate on Friday, it's just a burnt shell now",
    "the lad at 9 has a nerf gun and shoots it at his brother in the garden",
    "the dogs next door fight each other in the yard and it's noisy",
    "he's threatening to kill my cat if it comes in his garden again",
    "a man on the landing blocks my way and I'm scared to go out",
    "the kids are kicking a ball against my door right now",
    "the lads are on the roof of the garages right now",
    "I smelt gas earlier but it's gone now, I think it was the drains",
]


@pytest.mark.parametrize(("text", "kind"), EMERGENCIES)
def test_danger_now_is_an_emergency(text: str, kind: str) -> None:
    result = classify(text)
    assert result.emergency, result.reasons
    assert kind in result.emergency_kinds
    assert any(reason.startswith("emergency") for reason in result.reasons)


@pytest.mark.parametrize("text", NOT_EMERGENCIES)
def test_past_or_figurative_danger_is_not_an_emergency(text: str) -> None:
    result = classify(text)
    assert not result.emergency, result.reasons


def test_emergency_reason_quotes_the_danger_and_the_now_marker() -> None:
    result = classify("there is a man smashing car windows in the car park right now")
    reason = next(r for r in result.reasons if r.startswith("emergency"))
    assert "'smashing car windows" in reason
    assert "'right now'" in reason


@pytest.mark.parametrize("text", DANGER_IN_OTHER_WORDS)
def test_danger_in_other_words_is_an_emergency(text: str) -> None:
    assert classify(text).emergency, classify(text).reasons
