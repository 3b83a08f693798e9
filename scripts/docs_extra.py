"""Turn the guides in docs/*.md into antsibull-docs extra docs in a collection tree.

The guides are written once, in Markdown, where they render on GitHub and ship in the artifact.
antsibull-docs only takes reStructuredText (converted here with pandoc) from docs/docsite/rst listed in
docs/docsite/extra-docs.yml, so both are generated here, in the copy of the collection the docs are
built from (scripts/docs.sh), never in the checkout.

Usage: docs_extra.py COLLECTION_DIR
"""
import os
import re
import subprocess
import sys

import yaml

NAMESPACE, NAME = "progressive", "delivery"
LABEL_PREFIX = "ansible_collections.{0}.{1}.docsite.".format(NAMESPACE, NAME)
# The guides a new user reads first, in that order; every other guide follows, by name.
FIRST = ("role", "awx", "modules", "webhooks", "flagger-compatibility", "reliability",
         "performance", "why-not-openshift")


def guide_title(markdown, path):
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise SystemExit("{0}: a guide needs a '# Title' line".format(path))


def to_rst(markdown):
    # No heading labels: antsibull-docs wants every label under the collection's prefix. Wide
    # columns: a table cell wrapped by pandoc can split an inline literal in two.
    rst = subprocess.run(["pandoc", "--from", "gfm-gfm_auto_identifiers", "--to", "rst", "--wrap", "preserve",
                          "--columns", "10000"],
                         input=markdown, capture_output=True, text=True, check=True).stdout
    # A fence without a language becomes "::", which Sphinx would highlight as Python.
    return re.sub(r"^(\s*)::\s*$", r"\1.. code-block:: text\n", rst, flags=re.M)


def write_extra_docs(collection):
    docs = os.path.join(collection, "docs")
    guides = sorted(name[:-3] for name in os.listdir(docs) if name.endswith(".md"))
    guides = [name for name in FIRST if name in guides] + [name for name in guides if name not in FIRST]
    rst_dir = os.path.join(docs, "docsite", "rst")
    os.makedirs(rst_dir, exist_ok=True)
    toctree = []
    for guide in guides:
        path = os.path.join(docs, guide + ".md")
        with open(path, encoding="utf-8") as handle:
            markdown = handle.read()
        title = guide_title(markdown, path)
        label = LABEL_PREFIX + guide.replace("-", "_")
        with open(os.path.join(rst_dir, guide + ".rst"), "w", encoding="utf-8") as handle:
            handle.write(".. _{0}:\n\n{1}".format(label, to_rst(markdown)))
        toctree.append(guide)
    index = {"sections": [{"title": "Guides", "toctree": toctree}]}
    with open(os.path.join(docs, "docsite", "extra-docs.yml"), "w", encoding="utf-8") as handle:
        handle.write("---\n")
        yaml.safe_dump(index, handle, sort_keys=False)
    return toctree


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print("extra docs: " + ", ".join(write_extra_docs(sys.argv[1])))
