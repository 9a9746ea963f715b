"""The portal's French words: errors by stable code, fixed notices, history labels.

Domain messages are for developers; the holder reads a sentence naming the field. A
refusal that must not tell why (login, activation, reset) has one sentence for all its
causes (RULES R19: nothing tells an attacker whether an account exists or is locked).
"""

from __future__ import annotations

from dmp.domain.accounts import CODE_LENGTH, PASSWORD_MIN
from dmp.domain.errors import DomainError

# Form field names of the portal, by the `field` of the domain's errors.
FIELDS = {"ins": "identifier", "identifier": "identifier"}

_INS = (
    "Identifiant invalide : saisissez votre numéro de sécurité sociale (INS), 15 caractères "
    "clé comprise, tel qu'il figure sur votre carte Vitale."
)
_BY_CODE = {
    "CODE_FORMAT": (
        f"Le code comporte {CODE_LENGTH} lettres et chiffres, en 4 groupes de 4 "
        "(par exemple ABCD-EFGH-JKMN-PQRS)."
    ),
    "EMAIL_REQUIRED": "Indiquez l'adresse électronique qui recevra vos codes de connexion.",
    "EMAIL_SYNTAX": "Adresse électronique invalide (par exemple prenom.nom@exemple.fr).",
    "PASSWORD_TOO_SHORT": f"Le mot de passe doit comporter au moins {PASSWORD_MIN} caractères.",
    "PASSWORD_TOO_LONG": "Le mot de passe ne doit pas dépasser 128 caractères.",
    "PASSWORD_IS_INS": "Le mot de passe ne doit pas contenir votre numéro de sécurité sociale.",
    "PASSWORD_TOO_COMMON": (
        "Ce mot de passe est trop courant ou trop facile à deviner : choisissez par exemple "
        "une phrase de plusieurs mots."
    ),
    "PASSWORD_MISMATCH": "Les deux mots de passe saisis sont différents.",
    "LOGIN_CODE_FORMAT": "Le code comporte 6 chiffres.",
    "TOTP_CODE": (
        "Ce code ne correspond pas à l'application : vérifiez l'heure de votre téléphone "
        "et saisissez le code affiché."
    ),
    "TOTP_NOT_STARTED": "Commencez par afficher une nouvelle clé.",
    "ACTIVATION_REFUSED": (
        "Ce code d'activation n'est pas valable pour cet identifiant. Vérifiez votre saisie ; "
        "un code ne sert qu'une fois et expire six semaines après son envoi. Après plusieurs "
        "erreurs, l'activation est suspendue quelques minutes."
    ),
    "LOGIN_REFUSED": (
        "Identifiant ou mot de passe incorrect. Après plusieurs erreurs, la connexion est "
        "bloquée temporairement ; vous en êtes alors averti par courriel."
    ),
    "CODE_REFUSED": "Code incorrect ou expiré. Vérifiez le dernier code reçu.",
    "RESET_REFUSED": (
        "Réinitialisation refusée : vérifiez l'identifiant et le code reçu par courriel (valable "
        "30 minutes, une seule fois) et, si vous l'avez activée, le code de votre application."
    ),
}

STATES = {
    "active": "Votre compte est activé. Connectez-vous avec votre mot de passe.",
    "deconnecte": "Vous êtes déconnecté.",
    "expire": "Votre session a pris fin. Connectez-vous à nouveau.",
    "reinitialise": "Votre mot de passe a été changé. Connectez-vous avec le nouveau.",
}


def french(exc: DomainError) -> str:
    """A sentence the holder understands, naming the field."""
    if exc.code.startswith("INS_") or exc.code == "NOT_A_STRING":
        return _INS
    return _BY_CODE.get(exc.code, f"Saisie invalide (code {exc.code}).")


def field_of(exc: DomainError, default: str = "form") -> str:
    """The form field an error is about."""
    return FIELDS.get(exc.field or "", exc.field or default)


# --- the access history (RULES R16) ---

ACTIONS = {
    "record.open": "Ouverture du dossier",
    "record.migrate": "Reprise du dossier",
    "record.read": "Consultation du dossier",
    "record.close": "Fermeture du dossier",
    "record.reopen": "Réouverture du dossier",
    "record.purge": "Destruction du dossier",
    "document.search": "Recherche de documents",
    "document.read": "Lecture d'un document",
    "document.write": "Ajout d'un document",
    "document.delete": "Suppression d'un document",
    "document.archive": "Archivage d'un document",
    "document.mask": "Masquage d'un document",
    "document.hide": "Document rendu invisible jusqu'à l'annonce",
    "history.read": "Consultation de l'historique des accès",
    "access.manage": "Gestion des accès",
    "emergency.access": "Accès en urgence",
    "consent.record": "Recueil de votre consentement",
    "account.activate": "Activation de votre compte",
    "account.login": "Connexion à votre espace",
    "account.lock": "Blocage temporaire de la connexion",
    "account.logout": "Déconnexion",
    "account.session_end": "Fin de session",
    "account.reset": "Réinitialisation du mot de passe",
    "account.totp": "Activation d'une application d'authentification",
}
LOGIN_STEPS = {
    "password": "mot de passe vérifié",
    "code": "code vérifié",
    "resend": "nouveau code envoyé",
    "request": "code envoyé par courriel",
    "complete": "nouveau mot de passe",
}
ROLES = {
    "professional": "Professionnel de santé",
    "representative": "Représentant légal",
    "insurer_agent": "Assurance Maladie",
    "operator": "Exploitant du DMP",
    "system": "Système DMP",
    "anonymous": "Non identifié (connexion en cours)",
    "complementary_insurer": "Organisme complémentaire",
    "employer": "Employeur",
    "occupational_doctor": "Médecin du travail",
}
OUTCOMES = {"success": "Effectué", "denied": "Refusé", "failed": "Échoué"}
