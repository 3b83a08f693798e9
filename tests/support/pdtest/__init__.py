"""Test support of progressive.delivery, shared by tests/, scripts/bench and scripts/chaos.py.

- ``checkout``: the checkout under test and the collection it holds, for Python and for Ansible
- ``sandbox``: the sandbox handle and what tests read from the cluster
- ``manifests``: Canary, MetricTemplate, Deployment, Service and Traefik objects (one set)
- ``apps``: the sample app and its neighbours put into a sandbox namespace
- ``playbooks``: ansible-playbook runs, with or without a cluster
- ``load``: steady load with `hey` and requests through Traefik
- ``procs``: ``tied``, so that what a test starts ends with a killed test process
- ``fake_k8s``, ``fake_time``, ``http_recorder``: stand-ins for unit tests

Installed editable by scripts/setup.sh (``pip install -e tests/support``) together with the
sandbox package (tests/sandbox); nothing here edits ``sys.path`` for our own modules.
"""
