"""What the synthetic claims are made of: acts and products per category, written for
this generator in the shape of their nomenclature (domain.claims.NOMENCLATURES).

Codes have the right structure (and CIP13 codes a valid EAN-13 key) but are not
checked against the official lists; labels are plausible French wordings. Weights
say how often a category or an item appears: drugs and consultations dominate, as in
the insurer's real data.
"""

from __future__ import annotations

from dmp.domain.claims import ClaimCategory, ean13_key


def cip13(serial: int) -> str:
    """A CIP13 code (34009 + 7 digits + EAN-13 key) for a synthetic presentation."""
    first12 = f"34009{serial:07d}"
    return first12 + ean13_key(first12)


# (category weight, profession of the performer or None, prescribed?, facility?)
CATEGORIES: dict[ClaimCategory, tuple[float, str | None, bool, bool]] = {
    ClaimCategory.PHARMACY: (44.0, "21", True, True),
    ClaimCategory.CONSULTATION: (21.0, "10", False, False),
    ClaimCategory.BIOLOGY: (12.0, "21", True, True),
    ClaimCategory.PARAMEDICAL: (9.0, "60", True, False),
    ClaimCategory.TECHNICAL_ACT: (6.0, "10", False, False),
    ClaimCategory.DENTAL: (3.0, "40", False, False),
    ClaimCategory.OPTICAL: (2.0, "28", True, False),
    ClaimCategory.MEDICAL_DEVICE: (2.0, "21", True, False),
    ClaimCategory.HOSPITAL_STAY: (1.0, None, False, True),
}

# (code, label, weight, usual quantity at most)
ITEMS: dict[ClaimCategory, tuple[tuple[str, str, float, int], ...]] = {
    ClaimCategory.PHARMACY: (
        (cip13(3000001), "PARACETAMOL 1000 mg, comprimé", 20, 3),
        (cip13(3000002), "PARACETAMOL 500 mg, gélule", 12, 3),
        (cip13(3000103), "IBUPROFENE 400 mg, comprimé pelliculé", 6, 2),
        (cip13(3000204), "AMOXICILLINE 1 g, comprimé dispersible", 6, 2),
        (cip13(3000305), "LEVOTHYROXINE 75 µg, comprimé sécable", 5, 3),
        (cip13(3000406), "METFORMINE 850 mg, comprimé pelliculé", 5, 3),
        (cip13(3000507), "ATORVASTATINE 20 mg, comprimé pelliculé", 5, 3),
        (cip13(3000608), "ACIDE ACETYLSALICYLIQUE 75 mg, poudre pour solution buvable", 4, 3),
        (cip13(3000709), "SALBUTAMOL 100 µg/dose, suspension pour inhalation", 3, 1),
        (cip13(3000810), "OMEPRAZOLE 20 mg, gélule gastro-résistante", 4, 2),
        (cip13(3000911), "PHLOROGLUCINOL 80 mg, comprimé orodispersible", 3, 2),
        (cip13(3001012), "AMLODIPINE 5 mg, gélule", 4, 3),
        (cip13(3001113), "VACCIN GRIPPAL, suspension injectable en seringue préremplie", 2, 1),
        (cip13(3001214), "COLECALCIFEROL 100 000 UI, solution buvable en ampoule", 2, 1),
    ),
    ClaimCategory.CONSULTATION: (
        ("G", "Consultation de médecine générale", 60, 1),
        ("GS", "Consultation de médecine générale (spécialiste en MG)", 10, 1),
        ("APC", "Avis ponctuel de consultant", 5, 1),
        ("CS", "Consultation de spécialiste", 12, 1),
        ("VG", "Visite à domicile de médecine générale", 4, 1),
        ("TCG", "Téléconsultation de médecine générale", 6, 1),
        ("CNP", "Consultation de psychiatrie", 3, 1),
    ),
    ClaimCategory.BIOLOGY: (
        ("1104", "Hémogramme y compris plaquettes (NFS)", 25, 1),
        ("0552", "Glucose (glycémie à jeun)", 18, 1),
        ("0996", "Bilan lipidique", 15, 1),
        ("0593", "Créatinine avec débit de filtration glomérulaire", 14, 1),
        ("1208", "Thyréostimuline (TSH)", 10, 1),
        ("0578", "Hémoglobine glyquée (HbA1c)", 8, 1),
        ("1127", "Temps de Quick (TP, INR)", 5, 1),
        ("1806", "Protéine C réactive (CRP)", 5, 1),
    ),
    ClaimCategory.PARAMEDICAL: (
        ("AMI", "Acte infirmier", 40, 3),
        ("AIS", "Acte infirmier de soins", 15, 3),
        ("AMK", "Acte de masso-kinésithérapie", 30, 10),
        ("AMO", "Acte d'orthophonie", 8, 10),
        ("AMY", "Acte d'orthoptie", 4, 3),
    ),
    ClaimCategory.TECHNICAL_ACT: (
        ("DEQP003", "Électrocardiographie sur au moins 12 dérivations", 30, 1),
        ("ZBQK002", "Radiographie du thorax", 20, 1),
        ("ZCQM004", "Échographie de l'abdomen", 15, 1),
        ("ACQK001", "Scanographie du crâne", 8, 1),
        ("QEQK004", "Mammographie bilatérale", 8, 1),
        ("HHQE002", "Coloscopie totale", 4, 1),
    ),
    ClaimCategory.DENTAL: (
        ("HBJD001", "Détartrage et polissage des dents", 40, 1),
        ("HBMD038", "Restauration d'une dent par matériau inséré en phase plastique", 30, 2),
        ("HBGD036", "Avulsion d'une dent permanente", 12, 1),
        ("HBLD036", "Pose d'une couronne dentaire", 8, 1),
    ),
    ClaimCategory.OPTICAL: (
        ("2210546", "Monture de lunettes adulte", 40, 1),
        ("2203240", "Verre unifocal sphérique", 45, 2),
        ("2227038", "Verre progressif", 15, 2),
    ),
    ClaimCategory.MEDICAL_DEVICE: (
        ("1107327", "Lecteur de glycémie", 15, 1),
        ("1140120", "Bandelettes d'autosurveillance glycémique", 40, 4),
        ("1173226", "Bas de contention", 25, 2),
        ("1101230", "Pansements et compresses stériles", 20, 5),
    ),
    ClaimCategory.HOSPITAL_STAY: (
        ("05M092", "Insuffisance cardiaque et états de choc circulatoire, niveau 2", 20, 1),
        ("04M052", "Pneumonies et pleurésies banales, niveau 2", 20, 1),
        ("14Z14A", "Accouchements uniques par voie basse", 25, 1),
        ("08C241", "Prothèses de hanche pour traumatismes récents, niveau 1", 15, 1),
        ("06C04J", "Appendicectomies, en ambulatoire", 20, 1),
    ),
}
