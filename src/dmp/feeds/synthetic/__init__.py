"""Synthetic data shaped like the November 2018 national launch (demo and benchmarks).

    population.py  people: valid INS consistent with sex and birth date, French names,
                   ages like the French population, departments weighted by population
    launch.py      openings from 6 November 2018: weekly ramp, weekday and hour
                   patterns per channel, pools of pharmacies, establishments,
                   professionals and insurer desks per department
    bad_lines.py   deliberately broken lines, each with the code the importer must give
    files.py       the registry and legacy-records CSV files, streamed line by line

Everything is seeded: the same seed gives the same people, openings and files, and
the first N people of a seed are the same whatever the count asked, so a registry of
20,000 and a records file of 15,000 generated with one seed describe the same people.
Memory stays flat: nothing is kept per person, so 3 million lines cost what 3 do.
"""
