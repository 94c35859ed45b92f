"""django-waffle's migrations as Cleave runs them (MIGRATION_MODULES["waffle"]).

Waffle's own initial migration creates its default Flag tables, with a many-to-many to the user
model, even when WAFFLE_FLAG_MODEL swaps the Flag out; those orphan tables then block every
TRUNCATE of the user table. These migrations create only what Cleave uses: Switch (kill
switches) and Sample; Cleave's Flag lives in the `cleave` app.
"""
