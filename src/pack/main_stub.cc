int droot_pack_stub;
