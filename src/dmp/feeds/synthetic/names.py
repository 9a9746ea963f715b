"""Common French family names and given names, written for this generator.

Family names are listed roughly from the most to the least frequent; some regions
(Corsica, Brittany, Alsace-Moselle, the Nord, the overseas departments) add names of
their own. Given names follow the fashion of the birth years, so a person born in
1935 is more often a Germaine or a Marcel and a child born in 2012 a Léa or a Lucas.
"""

from __future__ import annotations


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


FAMILY_NAMES = _names(
    """Martin, Bernard, Thomas, Petit, Robert, Richard, Durand, Dubois, Moreau, Laurent,
    Simon, Michel, Lefebvre, Leroy, Roux, David, Bertrand, Morel, Fournier, Girard,
    Bonnet, Dupont, Lambert, Fontaine, Rousseau, Vincent, Muller, Lefèvre, Faure, André,
    Mercier, Blanc, Guérin, Boyer, Garnier, Chevalier, François, Legrand, Gauthier, Garcia,
    Perrin, Robin, Clément, Morin, Nicolas, Henry, Roussel, Mathieu, Gautier, Masson,
    Marchand, Duval, Denis, Dumont, Marie, Lemaire, Noël, Meyer, Dufour, Meunier,
    Brun, Blanchard, Giraud, Joly, Rivière, Lucas, Brunet, Gaillard, Barbier, Arnaud,
    Martinez, Gérard, Roche, Renard, Schmitt, Roy, Leroux, Colin, Vidal, Caron,
    Picard, Roger, Fabre, Aubert, Lemoine, Renaud, Dumas, Lacroix, Olivier, Philippe,
    Bourgeois, Pierre, Benoît, Rey, Leclerc, Payet, Rolland, Leclercq, Guillaume, Lecomte,
    Lopez, Jean, Dupuy, Guillot, Hubert, Berger, Carpentier, Sanchez, Dupuis, Moulin,
    Louis, Deschamps, Huet, Vasseur, Perez, Boucher, Fleury, Royer, Klein, Jacquet,
    Adam, Paris, Poirier, Marty, Aubry, Guyot, Carré, Charles, Renault, Charpentier,
    Ménard, Maillard, Baron, Bertin, Bailly, Hervé, Schneider, Fernandez, Le Gall, Collet,
    Léger, Bouvier, Julien, Prévost, Millet, Perrot, Daniel, Le Roux, Cousin, Germain,
    Breton, Besson, Langlois, Rémy, Le Goff, Pelletier, Lévêque, Perrier, Leblanc, Barré,
    Lebrun, Marchal, Weber, Mallet, Hamon, Boulanger, Jacob, Monnier, Michaud, Rodriguez,
    Guichard, Gillet, Étienne, Grondin, Poulain, Tessier, Chevallier, Collin, Chauvin,
    Da Silva, Bouchet, Gay, Lemaître, Bénard, Maréchal, Humbert, Reynaud, Antoine, Hoarau,
    Perret, Barthélemy, Cordier, Pichon, Lejeune, Gilbert, Lamy, Delaunay, Pasquier, Carlier,
    Laporte, Gonzalez, Ferreira, Dos Santos, Benoit, Haddad, Mansour, Diallo, Traoré, Nguyen"""
)

# Keyed by INSEE region code; a share of the people living there carry these names.
REGIONAL_FAMILY_NAMES: dict[str, tuple[str, ...]] = {
    "94": _names(
        """Santoni, Pieri, Luciani, Giacomoni, Mattei, Casanova, Antonetti, Filippi, Leca,
        Albertini, Paoli, Rossi, Marchetti, Susini, Cristofari, Poli, Bartoli, Ottavi"""
    ),
    "53": _names(
        """Le Gall, Le Goff, Le Roux, Le Bihan, Tanguy, Le Guen, Le Floch, Guillou, Le Corre,
        Morvan, Le Berre, Le Meur, Jaouen, Quéré, Le Moal, Kerbrat, Le Bris, Riou"""
    ),
    "44": _names(
        """Muller, Schmitt, Meyer, Weber, Klein, Schneider, Fischer, Wagner, Hoffmann, Becker,
        Koch, Wolff, Zimmermann, Walter, Roth, Schaeffer, Kieffer, Hertz"""
    ),
    "32": _names(
        """Lefebvre, Lefèvre, Leroy, Dubois, Delattre, Dupont, Vasseur, Deschamps, Lemaire,
        Leclercq, Caron, Delannoy, Duhamel, Deprez, Lecocq, Wallart, Carlier, Dhalluin"""
    ),
    "04": _names(
        """Payet, Hoarau, Grondin, Fontaine, Técher, Robert, Rivière, Hoareau, Boyer, Maillot,
        Lebon, Nativel, Dijoux, Turpin, Lauret, Clain, Gonthier, Sautron"""
    ),
    "01": _names(
        """Joseph, Louis, Alexis, Jean-Louis, Marie-Sainte, Régis, Bellance, Cyrille,
        Jean-Baptiste, Lubin, Pierre-Louis, Dorville, Calixte, Bélair, Sainte-Rose, Zénon"""
    ),
    "02": _names(
        """Joseph, Louis, Marie-Sainte, Jean-Baptiste, Rose, Théodose, Charles-Angèle,
        Laurent, Bellay, Désiré, Félix, Sainte-Luce, Fortuné, Zénon, Pierre-Louis, Nelson"""
    ),
    "03": _names(
        """Joseph, Da Silva, Pinas, Saint-Louis, Alexandre, Horth, Biswane, Ho-A-Chuck,
        Pierre, Jean-Baptiste, Louis, Monnerville, Ringuet, Nicolas, Dos Santos, Sabayo"""
    ),
    "06": _names(
        """Ahamada, Saïd, Ali, Abdallah, Madi, Soilihi, Mohamed, Attoumani, Combo, Ousseni,
        Ahmed, Houmadi, Anli, Boina, Chanfi, Mdallah"""
    ),
}
REGIONAL_SHARE = 0.4

# (last birth year of the cohort, feminine names, masculine names), oldest first.
GIVEN_NAMES: tuple[tuple[int, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        1944,
        _names(
            """Marie, Jeanne, Suzanne, Madeleine, Marguerite, Germaine, Yvonne, Simone, Denise,
            Paulette, Odette, Lucienne, Andrée, Louise, Renée, Jacqueline, Colette, Raymonde,
            Geneviève, Thérèse, Odile, Gisèle, Hélène, Ginette, Marcelle"""
        ),
        _names(
            """Jean, Pierre, André, René, Louis, Marcel, Roger, Robert, Henri, Paul, Georges,
            Maurice, Raymond, Joseph, Lucien, Jacques, Fernand, Albert, Roland, Gilbert,
            Claude, Michel, Bernard, Guy, Émile"""
        ),
    ),
    (
        1964,
        _names(
            """Monique, Nicole, Françoise, Catherine, Martine, Christine, Danielle, Sylvie,
            Chantal, Michèle, Brigitte, Annie, Jacqueline, Marie, Évelyne, Dominique,
            Christiane, Josiane, Patricia, Anne, Colette, Nadine, Élisabeth, Isabelle, Joëlle"""
        ),
        _names(
            """Michel, Alain, Jean, Bernard, Gérard, Daniel, Jacques, Patrick, Philippe,
            Christian, Claude, Jean-Pierre, Jean-Claude, Pierre, Serge, Dominique, Gilles,
            Francis, Didier, Joël, Yves, Jean-Luc, Thierry, Marc, Guy"""
        ),
    ),
    (
        1984,
        _names(
            """Isabelle, Nathalie, Sylvie, Valérie, Sandrine, Christine, Stéphanie, Véronique,
            Céline, Karine, Laurence, Virginie, Sophie, Aurélie, Corinne, Catherine, Émilie,
            Delphine, Caroline, Séverine, Patricia, Carole, Hélène, Julie, Élodie"""
        ),
        _names(
            """Philippe, Christophe, Stéphane, Frédéric, Laurent, David, Pascal, Éric, Olivier,
            Thierry, Nicolas, Sébastien, Patrick, Franck, Jérôme, Vincent, Bruno, Didier,
            Julien, Cédric, Fabrice, Jean-Marc, Pierre, Arnaud, Guillaume"""
        ),
    ),
    (
        2004,
        _names(
            """Julie, Laura, Camille, Marine, Manon, Léa, Pauline, Sarah, Anaïs, Émilie, Marie,
            Mélanie, Chloé, Océane, Audrey, Lucie, Clara, Mathilde, Justine, Morgane, Élodie,
            Amandine, Charlotte, Inès, Maëva"""
        ),
        _names(
            """Thomas, Nicolas, Julien, Kevin, Alexandre, Maxime, Quentin, Romain, Anthony,
            Florian, Lucas, Hugo, Antoine, Clément, Théo, Jérémy, Mathieu, Guillaume,
            Benjamin, Pierre, Valentin, Dylan, Adrien, Louis, Corentin"""
        ),
    ),
    (
        9999,
        _names(
            """Emma, Léa, Chloé, Manon, Jade, Louise, Alice, Lina, Camille, Inès, Sarah, Zoé,
            Lola, Léna, Juliette, Lucie, Rose, Mila, Anna, Ambre, Romane, Eva, Clara,
            Mathilde, Léonie"""
        ),
        _names(
            """Lucas, Nathan, Enzo, Louis, Gabriel, Hugo, Jules, Raphaël, Arthur, Léo, Thomas,
            Mathis, Tom, Théo, Adam, Paul, Ethan, Noah, Timéo, Nolan, Maël, Sacha, Aaron,
            Liam, Mohamed"""
        ),
    ),
)


def given_names_of(birth_year: int, feminine: bool) -> tuple[str, ...]:
    """The given names in fashion for someone born in `birth_year`."""
    for last_year, women, men in GIVEN_NAMES:
        if birth_year <= last_year:
            return women if feminine else men
    raise AssertionError("the last cohort covers every year")
