#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_volume
short_description: Create, fill, resize and delete a volume in a libvirt storage pool
version_added: 0.1.0
description:
  - Makes sure a volume called O(name) exists in the running pool O(pool) (or not, O(state=absent)).
  - A new volume is created empty with O(size) and O(format); as a copy-on-write overlay of
    O(backing); as a full copy of another volume (O(clone_from)); from a file uploaded through
    libvirt's stream API (O(upload)); or from a complete volume O(xml).
  - Everything goes through libvirt's storage API, so the module works the same with a remote
    O(uri) (V(qemu+ssh://...)) where no C(qemu-img) runs. Run the module on the controller
    (C(delegate_to) V(localhost)) with a remote O(uri) to upload a file from the controller.
  - An existing volume is changed only in its size (grown; shrunk only with O(allow_shrink)) and,
    with O(upload), its content. Other differences (format, backing store) are refused, as libvirt cannot
    change them on a volume.
options:
  name:
    description: Name of the volume in the pool. Required unless O(xml) has a C(<name>).
    type: str
  pool:
    description: Name of the storage pool; it must be running.
    type: str
    required: true
  state:
    description: V(present) creates the volume when missing; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  xml:
    description:
      - A complete volume XML (a C(<volume>) document) to create the volume from. On an existing volume it
        is compared with the volume (its C(capacity) resizes it; anything else that differs is refused).
    type: str
  size:
    description:
      - The capacity, in bytes or with a unit (V(10G), V(512MiB), V(1T); K, M, G, T are powers of 1024,
        KB, MB, GB powers of 1000). A larger size than the volume has grows it.
      - A volume that is a disk of a running domain is grown by the domain's QEMU
        (C(virDomainBlockResize); the guest sees the new size at once, and libvirt's own resize
        would fail on QEMU's image lock); it is never shrunk.
      - A volume made from O(size) is sparse (allocation 0); give O(xml) with an C(<allocation>) to preallocate.
      - For an overlay, it defaults to the size of the backing volume.
    type: str
  format:
    description:
      - The format of a new volume (V(raw), V(qcow2), ...). Defaults to V(qcow2) for an overlay, else V(raw).
    type: str
  backing:
    description:
      - Create the volume as a copy-on-write overlay of this volume (a name in the same pool) or file
        (an absolute path on the hypervisor).
    type: str
  backing_format:
    description:
      - The format of O(backing). Defaults to the format of the backing volume when O(backing) names
        one, else V(qcow2).
    type: str
  clone_from:
    description:
      - Create the volume as a full copy of this volume of the same pool (C(virStorageVolCreateXMLFrom)).
    type: str
  upload:
    description:
      - A file on the host the module runs on whose bytes become the volume's content (C(virStorageVolUpload)).
        A new volume gets the file's size; libvirt detects its format (a qcow2 cloud image becomes a
        qcow2 volume).
      - No checksum is stored anywhere (libvirt volumes have no metadata, and a file next to the volume does
        not exist on a remote or non-directory pool). Each run reads the volume back through the download
        stream and compares it with the file, stopping at the first difference; only a different content is
        uploaded again. That read costs about one copy of the volume per run.
    type: path
  cloud_init:
    description:
      - Make the volume a cloud-init NoCloud seed, an ISO 9660 image (Joliet names, label C(cidata)) holding
        C(user-data), C(meta-data) and, when given, C(network-config), built here in Python and uploaded like
        O(upload). The image is the same byte for byte for the same content, so an unchanged seed is not
        uploaded again.
      - Attach the volume to the guest as a CD-ROM (C(<disk type='volume' device='cdrom'>)).
    type: dict
    suboptions:
      user_data:
        description:
          - The user data, usually a string starting with C(#cloud-config). A mapping is written as
            C(#cloud-config) followed by the mapping in JSON (which YAML reads).
        type: raw
      meta_data:
        description:
          - The meta data (a string or a mapping). Defaults to an C(instance-id) made of the volume name and a
            hash of the user data and network configuration, so that a changed seed is a new instance for cloud-init.
        type: raw
      network_config:
        description: The network configuration (version 1 or 2; a string or a mapping). Omitted when not given.
        type: raw
  checksum:
    description:
      - The sha256 the O(upload) file must have (V(sha256:<hex>) or the hex digits). A mismatch fails
        before anything is created or uploaded.
    type: str
  allow_shrink:
    description: Allow a O(size) smaller than the volume's (the data beyond it is lost).
    type: bool
    default: false
  wipe:
    description: With O(state=absent), overwrite the volume's data with zeros (C(virStorageVolWipe)) before deleting it.
    type: bool
    default: false
seealso:
  - module: domainops.libvirt.virt_pool
  - name: libvirt storage volume XML format
    description: The elements a volume definition can hold.
    link: https://libvirt.org/formatstorage.html#storage-volume-xml
author:
  - domainops.libvirt developers (@domainops)
extends_documentation_fragment:
  - domainops.libvirt.connection
  - domainops.libvirt.secrets
  - domainops.libvirt.connection.attributes
attributes:
  check_mode:
    description: Can run in check mode and report what it would do without doing it.
    support: full
  diff_mode:
    description: Returns what changed (or would change in check mode) for C(--diff).
    support: full
    details: The diff shows the volume XML before and after (in check mode, the actions planned).
  idempotent:
    support: full
'''

EXAMPLES = r'''
- name: A cloud image uploaded from the controller into a remote pool, once
  domainops.libvirt.virt_volume:
    uri: qemu+ssh://root@hv1.example.com/system
    pool: images
    name: debian-12-base.qcow2
    upload: files/debian-12-genericcloud-amd64.qcow2
    checksum: sha256:1f0b7c3a5d9e8f6b2a4c0d1e3f5a7b9c8d6e4f2a0b1c3d5e7f9a8b6c4d2e0f1a
  delegate_to: localhost

- name: A 20 GiB overlay per guest on top of it
  domainops.libvirt.virt_volume:
    pool: images
    name: web01.qcow2
    backing: debian-12-base.qcow2
    size: 20G

- name: An empty 4 GiB raw disk, then grown
  domainops.libvirt.virt_volume:
    pool: images
    name: data.img
    size: 8G

- name: A cloud-init seed for web01
  domainops.libvirt.virt_volume:
    pool: images
    name: web01-seed.iso
    cloud_init:
      user_data: |
        #cloud-config
        hostname: web01
        ssh_authorized_keys:
          - ssh-ed25519 AAAAC3Nza... admin@example.com
      network_config:
        version: 2
        ethernets:
          eth0: {dhcp4: true}

- name: Gone, zeroed first
  domainops.libvirt.virt_volume:
    pool: images
    name: data.img
    state: absent
    wipe: true
'''

RETURN = r'''
volume:
  description: The volume after the task (in check mode, as the task would leave it, where known).
  returned: success
  type: dict
  contains:
    name:
      description: Name of the volume.
      type: str
      sample: web01.qcow2
    pool:
      description: Name of its pool.
      type: str
      sample: images
    path:
      description: Its path on the hypervisor, V(null) when absent.
      type: str
      sample: /var/lib/libvirt/images/web01.qcow2
    format:
      description: Its format.
      type: str
      sample: qcow2
    capacity:
      description: Its size in bytes (the guest-visible size).
      type: int
      sample: 21474836480
    allocation:
      description: Bytes it takes in the pool.
      type: int
      sample: 200704
    backing:
      description: Path of its backing store, V(null) when it has none.
      type: str
      sample: /var/lib/libvirt/images/debian-12-base.qcow2
actions:
  description:
    - The libvirt operations performed (in check mode, that would be performed), for example V(create),
      V(create_from(base.qcow2)), V(upload), V(refresh_pool), V(resize(8589934592)),
      V(block_resize(web01/vda, 8589934592)) (a disk of a running domain), V(wipe), V(delete).
  returned: always
  type: list
  elements: str
  sample: ["create", "upload", "refresh_pool"]
differences:
  description: What differed from the task's options (empty when nothing did).
  returned: success
  type: list
  elements: str
  sample: ["capacity"]
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule, SECRET_PATHS_ARGUMENT_SPEC
from ansible_collections.domainops.libvirt.plugins.module_utils.volume import manage_volume


def main():
    module = LibvirtModule(
        argument_spec=dict(
            secret_paths=SECRET_PATHS_ARGUMENT_SPEC['secret_paths'],
            name=dict(type='str'),
            pool=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            xml=dict(type='str'),
            size=dict(type='str'),
            format=dict(type='str'),
            backing=dict(type='str'),
            backing_format=dict(type='str'),
            clone_from=dict(type='str'),
            upload=dict(type='path'),
            checksum=dict(type='str'),
            cloud_init=dict(type='dict', options=dict(
                user_data=dict(type='raw'),
                meta_data=dict(type='raw'),
                network_config=dict(type='raw'),
            )),
            allow_shrink=dict(type='bool', default=False),
            wipe=dict(type='bool', default=False),
        ),
        with_selector=False,
        required_one_of=[('name', 'xml')],
        mutually_exclusive=[('backing', 'clone_from', 'upload', 'cloud_init')],
        supports_check_mode=True,
    )
    module.run(manage_volume)


if __name__ == '__main__':
    main()
