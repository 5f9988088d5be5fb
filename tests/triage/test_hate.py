"""Hate detection (R-04): hostility, slurs and "because I'm ..." are hate; mentions are not."""

from __future__ import annotations

import pytest

from triage import classify
from triage.hate import find_hate
from triage.text import normalise

HATE_CASES = [
    # (report, strand expected among the strands found; None when no strand is named)
    ("lads on the corner shouted racist names at my wife", "race"),
    ("nxt door keeps calling my son a p*ki", "race"),
    ("they shout n***er at my kids", "race"),
    ("he told us to go back to our own country", "race"),
    ("woman upstairs told my mum to go back where she came from", "race"),
    ("being called a 'foreigner' and told to leave by her neighbour", "race"),
    ("they make monkey noises whenever my husband walks past", "race"),
    ("he says polish people are scum and should go home", "race"),
    ("neighbour told my husband to speak english or get out of the country", "race"),
    ("gypsy scum written on the sign at the site", "race"),
    ("someone put bacon through our letterbox, we are muslim", "religion"),
    ("they pulled my wifes hijab off in the stairwell", "religion"),
    ("kids calling him a terrorist and throwing stones", "religion"),
    ("a swastika drawn on the jewish family's door", "religion"),
    ("she is harassing her because she wears a headscarf", "religion"),
    ("someone wrote f*ggot on our door", "sexual_orientation"),
    ("homophobic slurs painted on my car", "sexual_orientation"),
    ("they called my wife a lesbo", "sexual_orientation"),
    ("abuse whenever we hold hands, we are a gay couple", "sexual_orientation"),
    ("neighbour calls me a tranny", "gender_identity"),
    ("he says I will never be a real woman", "gender_identity"),
    ("she deliberately calls her he in front of everyone and misgenders her", "gender_identity"),
    ("my neighbour says disabled people like me are scroungers", "disability"),
    ("keeps callin my brother a retard n a mong", "disability"),
    ("kids copy the way she talks and film her, shes autistic", "disability"),
    ("says im faking my disability", "disability"),
    ("someone keeps letting down the tyres on my mobility scooter", "disability"),
    ("I think they pick on us because we are Black", "race"),
    ("someone pushed dog mess through the letterbox of the Somali family", "race"),
    ("they wrote 'no blacks' on the communal noticeboard", "race"),
    ("our sikh neighbour had his turban knocked off by lads on the estate", "religion"),
    ("my son is deaf and the kids next door mimic his signing and laugh", "disability"),
    ("neighbour makes fun of my learning disability and calls me thick", "disability"),
    ("they shouted 'trannies out' at our door last night", "gender_identity"),
    ("someone has drawn a star of david with a line through it on my car", "religion"),
    ("he glares at us because we speak Polish", "race"),
    ("people like me shouldn't be allowed to live here, she says", None),
    ("I want to report a hate crime", None),
    ("they hate us for being who we are, pure prejudice", None),
]

HATE_IN_OTHER_WORDS = [
    "They keep calling us immigrants and telling us we don't belong here",
    "my neighbour said she doesn't want people like us in the building, we're the only black family",
    'someone left a note on my door saying no muslims',
    'he imitates my stammer every time he sees me',
    'they call my son a spaz',
    'kids on the estate shout gay at my son',
    "someone put a pig's head outside the mosque",
    'disabled people should be put in homes she told me',
    'they threw a bottle at me and shouted about my religion',
    "they call me it because I'm non-binary",
    'residents call the travellers pikeys',
    'graffiti saying poles go home on the garages',
    'a neighbour tried to pull off my niqab',
    'he makes nasty comments about my skin colour',
    'I was spat at for being gay',
    'calls my autistic son a weirdo and a freak',
    "they shout that I'm a mental case since they found out I have bipolar",
    'anti-gay stickers stuck on my door',
    "she said I'm an illegal and she'll have me deported",
    'the man upstairs keeps making comments about my accent and telling me to learn english',
    'they do the sign of the cross and laugh when I walk past in my hijab',
    "my neighbour keeps saying I only got this flat because I'm foreign",
    "someone scratched the word 'PAKI' into my car",
    'we have had eggs thrown at our house since we put up a pride flag',
    'they mock my son because he has down syndrome',
    # who the victim is, said anywhere, with hostility aimed at them
    "we're Jewish and someone keeps ripping the mezuzah off our door frame",
    "my husband is Ghanaian. the man upstairs spits on our car every morning",
    "I am a trans man and my neighbour keeps calling me by my old name in front of people",
    "she's non-binary and the lads outside the shop shout 'it' at her",
    "im a lesbian and the woman next door told me people like me are disgusting",
    "my brother has learning difficulties and his so called mates take his bank card every payday",
    "my daughter has cerebral palsy and kids copy the way she walks and film it",
    "I'm partially sighted and they hide my bins so I walk into them, then laugh",
    "my autistic son was called feral and told he should be locked away",
    "my deaf neighbour gets kids banging on her window, they know she can't hear them coming",
    # the reporter's perception
    "I feel it's because I wear a turban, nobody else gets their car scratched",
    "they only target our house, I think it's because we are Roma",
    "i believe they're doing it because my partner is a woman too",
    # symbols, exclusion and othering without a slur
    "someone spray painted SS runes and 88 on the bus shelter",
    "a noose was hung on the tree outside the only black family's house",
    "she keeps asking when we're going back home even though my children were born here",
    "they threw eggs at the Polish family's windows shouting go home",
    "leaflets through every door saying the new mosque will bring trouble, we are muslim",
    "the man at 9 plays nazi songs out of his window when my husband gets home, he's Jewish",
    "woman downstairs says all Romanians are thieves and should be sent back",
    "a dead pig was left outside the gurdwara",
    "they do a silly accent and say 'salaam' and laugh when my dad walks past",
    "someone wrote 'gay boy' on my son's bedroom window",
    "he bangs on the ceiling and shouts 'allah' in a stupid voice when we pray",
    "I'm deaf and someone keeps unscrewing my doorbell light then hammering on the door",
    "she keeps telling my autistic son he's a waste of space",
    "I'm black and someone keeps leaving banana skins on my doorstep",
    "since I came out as gay my neighbour won't let me use the communal garden",
    "they put up a sign facing our house saying keep this street white",
    "the neighbours keep calling the police on my son, he's the only Asian lad on the road",
    "he does a limp and laughs when my mum goes past with her stick",
    "'poles = thieves' written on the bus stop",
    "her dad doesn't like our type, we're mixed race, so my son can't come to the party",
    "he keeps asking 'what are you supposed to be' when I walk past, I'm non-binary",
    "kids left a dead rat in my hijab-wearing sister's bike basket and ran off laughing",
    "we're a same-sex couple and someone pushed a bible verse about sin through our letterbox",
    "lads keep following my son calling him dumbo cos of his hearing aids",
    "he told my trans daughter to stop pretending and that she'll never be normal",
    # families of coded hostility: migration tropes, religious dress, tropes, mate crime
    "the lads on the corner ask my dad when he's getting deported",
    "she says people like us came over on the boats to take our jobs",
    "my neighbour keeps saying foreigners get everything handed to them and we should leave",
    "woman at 4 told my mum to get that rag off her head",
    "someone pushed a note through saying the jews run the media",
    "kids on the landing keep calling my daughter's two dads 'the girls' and say its not natural",
    "graffiti on our door saying AIDS since my husband moved in with me",
    "they call my brother a scrounger n say he's faking it cos he uses crutches some days",
    "my nan was sectioned last year and now next door call her the mad old bat",
    "my son has learning difficulties and his so-called mates make him hand over his bank card",
    "I'm writing for a young woman with autism; the lads downstairs film her dancing for cans",
    "he spat at my wife and shouted go home",
    "they keep telling the other residents we bring disease, we moved here from Eritrea",
    "she has hung a picture of a burnt bible facing our windows",
    "someone keeps smearing dog mess on the ramp to my door, I'm the only one in a wheelchair in the close",
    "stickers saying 'remigration now' stuck on our door and nobody else's",
    "he says his kids shouldn't have to see two men holding hands and spat at us",
    "the lads at the shop call my dad 'the taliban' because of his beard",
    "they've started a petition to get the Roma family evicted and posted it to every door but theirs",
    "someone wrote 'go home immigrants' in the dust on our van",
    "my neighbour keeps reporting us to the council saying we're here illegally",
    "since I started my transition he tells everyone I'm sick in the head",
    "the couple opposite wave bacon at our window during Ramadan and laugh",
    "since my daughter came out the neighbours won't let their kids play with her",
    "they say my two mums will burn in hell and push bible verses through the door",
    "the kids keep hiding my dad's walking stick and laughing when he can't find it",
    "someone spray painted 'islam is evil' on the mosque wall",
    "pretty sure they pick on him cos he's got autism",
    "I'm deafblind and the man next door snatched my cane and threw it in the road",
    "they stand outside chanting 'kill all muslims' when we go to the mosque",
    "he yells 'you black bastard' at my husband over the fence",
    "the lads ask my trans sister if she's had the chop",
    "since I started wearing a headscarf he tells his mates 'they're taking over' when I pass",
    "the kids keep pulling my son's hearing aids out and throwing them",
    "they won't let my dad, who is deaf, join the residents' meetings unless he can 'talk properly'",
    "they call my sister dumb and mute because she can't speak",
    "he keeps saying 'your lot are all the same' and 'you don't belong here' to my mum",
    "the lads laugh at my son's turban and call him names",
    "they said they'll knock it off his head if they see my son in his kippah again",
    "the neighbour laughs and says 'look at the freak show' when my son has his tics",
    "bloke in the lift told me and my boyfriend to stop being queer in public",
    "the lads call my dad 'schizo' and 'nutter' cos he's on meds",
    "she tells my kids their dad, who is from Jamaica, is a criminal like all of them",
    "someone wrote 'jew' in the dust on our car",
]

NOT_HATE_CASES = [
    "the Muslim family upstairs play loud music",
    "The Chinese takeaway customers park on the pavement outside my house",
    "I'm not being racist but the Polish family leave rubbish in the bin store",
    "the gay couple next door have a dog that barks all day",
    "disabled bay outside my flat is used by a van with no badge",
    "I am disabled and the noise from upstairs is making me ill",
    "my neighbour, who is black, plays his music too loud",
    "the smell of their curry comes through the vents",
    "fag ends all over the stairs",
    "he went on a bender and was shouting in the street",
    "there is a black car parked across my drive",
    "asian lads dealing drugs in the car park",
    "the Jewish school bus parks on the zig zags every morning",
    "thick black smoke from their bonfire",
    "I am reporting this on behalf of my autistic son, the kids kick a ball at our window",
    "he keeps calling me a paedo and spitting at me",
    # a group named as the one complained of, not the victim
    "my neighbour, who is Nigerian, has threatened to punch me over the fence",
    "the polish man next door shouts at me every night when I park",
    "my neighbour is a trans woman and she leaves her bins on the path",
    # the reporter's identity with ASB that is not about it
    "I'm Muslim and the man upstairs plays loud music after midnight",
    "I am disabled and the youths keep kicking a ball against my fence",
    "we are a muslim family and someone stole our bikes from the shed",
    "I have bipolar and the constant drilling next door is affecting my mental health",
    "the family upstairs have a disabled son who makes noises sometimes, it's not his fault",
    "I think my neighbour's flat has been cuckooed, he is quite vulnerable",
    "the car parked across my drive is black and has no tax",
    "the Romanian family next door sit in the garden talking and laughing until 9pm",
    "my neighbour is Polish and we get on fine, I'm just asking about the bins",
    "I have mental health problems and the dog barking all day is getting me down",
    "my son's friends came round and ate all his crisps, the kids were very loud",
    "I'm Jewish and the boy upstairs kicks his ball at my door, I don't think it's anything to do with religion, he does it to everyone",
    "the noise is giving me mental health problems and he just laughs when I complain",
    "my nan gets confused with her dementia and the kids knock on her door and run off",
    "I am a Sikh and my bike was nicked from the bike store, same as everyone else's",
    "the disabled man in flat 1 keeps his mobility scooter in the corridor blocking the exit",
    "I'm gay and someone stole my bike from outside the flats, the lock was cut",
    "I'm Jewish and the street lights on our road have been smashed by youths again",
    "you lot are all the same, I've reported the music five times and nothing happens",
]


@pytest.mark.parametrize(("text", "strand"), HATE_CASES)
def test_hostility_is_hate(text: str, strand: str | None) -> None:
    finding = find_hate(normalise(text))
    assert finding.hate, text
    if strand is not None:
        assert strand in finding.strands
    assert finding.reasons


@pytest.mark.parametrize("text", NOT_HATE_CASES)
def test_mentioning_a_group_is_not_hate(text: str) -> None:
    assert not classify(text).hate, classify(text).reasons


def test_hate_makes_hate_incident_the_top_category() -> None:
    result = classify("Someone has written homophobic slurs on my car in permanent marker.")
    assert result.category.value == "hate_incident"
    assert "graffiti" in [c.value for c in result.categories]
    assert result.offensive_graffiti


def test_reason_names_the_strand_and_quotes_the_report() -> None:
    result = classify("the lads downstairs shout go back to your own country at me")
    assert any(r.startswith("hate (race): 'go back to your own country") for r in result.reasons)


def test_censored_slur_is_quoted_as_written() -> None:
    result = classify("nxt door keeps calling my son a p*ki")
    assert any("p*ki" in reason for reason in result.reasons)
    assert result.hate_strands == ("race",)


@pytest.mark.parametrize("text", HATE_IN_OTHER_WORDS)
def test_hostility_in_other_words_is_hate(text: str) -> None:
    assert classify(text).hate, text
