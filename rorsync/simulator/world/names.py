"""Word lists for plausible French names (establishments, units, streets, people)."""

from __future__ import annotations

import random
import unicodedata
from functools import lru_cache

GIVEN_NAMES = (
    "Marie", "Jean", "Camille", "Nathalie", "Pierre", "Sophie", "Nicolas", "Isabelle", "Thomas", "Claire",
    "Julien", "Aurélie", "Mathieu", "Émilie", "Laurent", "Céline", "Antoine", "Hélène", "Olivier", "Léa",
    "Mohamed", "Fatima", "Hugo", "Chloé", "Karim", "Inès", "Paul", "Manon", "Yann", "Anaïs",
)  # fmt: skip
FAMILY_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "André", "Lefèvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez",
    "Le Gall", "Nguyen", "Benali", "Da Silva", "Kerbrat", "Müller", "Hoarau", "Payet", "Ibrahim", "Ousseni",
)  # fmt: skip
RESIDENCE_NAMES = (
    "Les Tilleuls", "Les Glycines", "Le Clos Fleuri", "Les Jardins d'Automne", "La Roseraie", "Les Magnolias",
    "Le Parc", "Les Charmilles", "La Source", "Les Oliviers", "Le Bois Joli", "Les Hortensias", "Quiétude",
    "La Providence", "Saint-Joseph", "Les Peupliers", "L'Estuaire", "Les Mimosas", "Bel Air", "Les Cèdres",
)  # fmt: skip
STREET_TYPES = (
    ("RUE", "rue"),
    ("AV", "avenue"),
    ("BD", "boulevard"),
    ("CHE", "chemin"),
    ("PL", "place"),
    ("ALL", "allée"),
)
STREET_NAMES = (
    "de l'Hôpital", "du Général Leclerc", "Jean Jaurès", "Victor Hugo", "Pasteur", "de la République",
    "des Écoles", "du Moulin", "Gambetta", "de la Gare", "Saint-Martin", "des Lilas", "du Stade", "Foch",
    "Porte de Buc", "de Verdun", "Aristide Briand", "Louis Pasteur", "des Acacias", "de la Paix",
)  # fmt: skip
UNIT_WORDS = (
    "Unité", "Secteur", "Plateau", "Pavillon", "Aile", "Bâtiment", "Étage", "Département",
)  # fmt: skip


def person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)


def phone(rng: random.Random, region: str) -> str:
    prefix = {"11": "01", "24": "02", "28": "02", "52": "02", "53": "02", "27": "03", "32": "03", "44": "03"}.get(
        region, "04" if region in ("84", "93", "94", "76") else "05"
    )
    return f"{prefix}{rng.randrange(10**8):08d}"


def mobile(rng: random.Random) -> str:
    return f"0{rng.choice('67')}{rng.randrange(10**8):08d}"


@lru_cache(maxsize=8192)
def slug(text: str) -> str:
    """An e-mail-safe lower-case ASCII form of ``text``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    keep = "".join(char.lower() if char.isalnum() else "." for char in ascii_text)
    return ".".join(part for part in keep.split(".") if part)[:40] or "contact"
