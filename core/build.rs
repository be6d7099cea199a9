//! Generates the Mesos v1 and agent-protocol types from `proto/` with a
//! vendored `protoc`, so building needs no tool outside cargo.

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
    Ok(())
}
