# Makes the collection importable as ansible_collections.domainops.libvirt for pytest:
# scripts/setup.sh links .build/collections/ansible_collections/domainops/libvirt to
# this checkout (the link is made here too, for a checkout set up by hand).
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, '.build', 'collections')
_link = os.path.join(COLLECTIONS, 'ansible_collections', 'domainops', 'libvirt')
if not os.path.exists(_link):
    os.makedirs(os.path.dirname(_link), exist_ok=True)
    os.symlink(REPO, _link)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
