"""Make ``ansible_collections.progressive.delivery`` importable for plain pytest: the checkout is
the collection root, exposed under a temporary ``ansible_collections/progressive/delivery``."""

from pdtest.checkout import import_collection

import_collection()
