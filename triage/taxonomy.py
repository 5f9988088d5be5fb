"""Stable codes for ASB categories and priorities.

These codes are used in config files, storage, the CLI and reports, so they never change
once published: add new codes, never rename old ones.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """ASB category, worded as a housing officer would (seed 003 §9.1)."""

    HATE_INCIDENT = "hate_incident"
    DOMESTIC_ABUSE = "domestic_abuse"
    VIOLENCE_THREATS = "violence_threats"
    HARASSMENT_INTIMIDATION = "harassment_intimidation"
    VERBAL_ABUSE = "verbal_abuse"
    CRIMINAL_BEHAVIOUR = "criminal_behaviour"
    DRUGS_ALCOHOL = "drugs_alcohol"
    PROPERTY_DAMAGE = "property_damage"
    GRAFFITI = "graffiti"
    NOISE = "noise"
    YOUTH_DISORDER = "youth_disorder"
    DANGEROUS_DOGS = "dangerous_dogs"
    ANIMAL_NUISANCE = "animal_nuisance"
    VEHICLE_NUISANCE = "vehicle_nuisance"
    LITTER_FLY_TIPPING = "litter_fly_tipping"
    GARDEN_NUISANCE = "garden_nuisance"
    COMMUNAL_AREAS_MISUSE = "communal_areas_misuse"
    NOT_ASB = "not_asb"


CATEGORY_LABELS: dict[Category, str] = {
    Category.HATE_INCIDENT: "Hate incident or hate crime",
    Category.DOMESTIC_ABUSE: "Domestic abuse",
    Category.VIOLENCE_THREATS: "Violence or threats of violence",
    Category.HARASSMENT_INTIMIDATION: "Harassment or intimidation",
    Category.VERBAL_ABUSE: "Verbal abuse",
    Category.CRIMINAL_BEHAVIOUR: "Criminal behaviour",
    Category.DRUGS_ALCOHOL: "Drugs or alcohol",
    Category.PROPERTY_DAMAGE: "Damage to property",
    Category.GRAFFITI: "Graffiti",
    Category.NOISE: "Noise",
    Category.YOUTH_DISORDER: "Youth disorder",
    Category.DANGEROUS_DOGS: "Dangerous dogs",
    Category.ANIMAL_NUISANCE: "Animal nuisance",
    Category.VEHICLE_NUISANCE: "Vehicle nuisance",
    Category.LITTER_FLY_TIPPING: "Litter or fly-tipping",
    Category.GARDEN_NUISANCE: "Garden nuisance",
    Category.COMMUNAL_AREAS_MISUSE: "Misuse of communal areas",
    Category.NOT_ASB: "Not anti-social behaviour (everyday living)",
}


class Priority(StrEnum):
    """Case priority. P1 is the most urgent (seed 001: high / medium / standard)."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


PRIORITY_WORDS: dict[Priority, str] = {
    Priority.P1: "high priority",
    Priority.P2: "medium priority",
    Priority.P3: "standard priority",
}


class RiskLevel(StrEnum):
    """Outcome of the risk-assessment questionnaire."""

    STANDARD = "standard"
    MEDIUM = "medium"
    HIGH = "high"


class Nation(StrEnum):
    """Whose bank holidays count as non-working days."""

    ENGLAND_AND_WALES = "england_and_wales"
    SCOTLAND = "scotland"
    NORTHERN_IRELAND = "northern_ireland"


NATION_SUBDIVISION: dict[Nation, str] = {
    Nation.ENGLAND_AND_WALES: "ENG",
    Nation.SCOTLAND: "SCT",
    Nation.NORTHERN_IRELAND: "NIR",
}
