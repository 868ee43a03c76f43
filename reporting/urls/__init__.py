"""The reporting pages keep their addresses and names in the namespace of the pages they sit
beside (`subjects:dashboard`, `subjects:overview`, `visits:worklist`): the root URLconf serves
each of these modules together with that app's own URLconf (see `itp_trial/urls.py`)."""
