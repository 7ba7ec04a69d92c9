//! Compiles the ToCloud9 `v1` contracts in `proto/` without a system `protoc`: protox parses
//! them into a FileDescriptorSet, which madsim-tonic-build hands to tonic's generator twice
//! (`OUT_DIR/v1.rs` for tonic, `OUT_DIR/sim/v1.rs` for madsim's transport under `--cfg madsim`).

use std::path::PathBuf;

/// One file per service, all in `package v1;`.
const PROTOS: [&str; 9] = [
    "proto/servers_registry.proto",
    "proto/characters.proto",
    "proto/group.proto",
    "proto/guilds.proto",
    "proto/chat.proto",
    "proto/mail.proto",
    "proto/matchmaking.proto",
    "proto/worldserver.proto",
    "proto/auctionhouse.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_source_info(true).open_files(PROTOS)?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let fds_path = out_dir.join("v1_descriptor.bin");
    std::fs::write(&fds_path, compiler.encode_file_descriptor_set())?;
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    madsim_tonic_build::configure()
        .file_descriptor_set_path(&fds_path)
        .skip_protoc_run()
        // A server implements only the RPCs it needs; the others answer UNIMPLEMENTED.
        .generate_default_stubs(true)
        .emit_rerun_if_changed(false)
        .compile_protos(&PROTOS, &["proto"])?;
    Ok(())
}
