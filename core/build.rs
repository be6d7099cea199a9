//! Generates the Mesos v1 and agent-protocol types from `proto/` with a
//! vendored `protoc`, so building needs no tool outside cargo, and their
//! JSON encoders (`build/json_encoders.rs`).

#[path = "build/json_encoders.rs"]
mod json_encoders;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    let protos = [
        "proto/mesos/v1/mesos.proto",
        "proto/mesos/v1/scheduler.proto",
        "proto/mesos/v1/executor.proto",
        "proto/mesos/v1/master.proto",
        "proto/mesos/v1/agent.proto",
        "proto/corral/agent.proto",
    ];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let mut config = prost_build::Config::new();
    prost_reflect_build::Builder::new()
        .descriptor_pool("crate::proto::DESCRIPTOR_POOL")
        .configure(&mut config, &protos, &["proto"])?;
    config.compile_protos(&protos, &["proto"])?;
    println!("cargo:rerun-if-changed=build/json_encoders.rs");
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = std::fs::read(out_dir.join("file_descriptor_set.bin"))?;
    let set = prost_types::FileDescriptorSet::decode(descriptors.as_slice())?;
    std::fs::write(out_dir.join("mesos_json.rs"), json_encoders::generate(&set))?;
    Ok(())
}
