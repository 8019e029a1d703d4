//! Rebuild the server when the web build (`web/dist`, embedded by `src/web.rs` in release
//! builds) changes. Before the first web build, watch `web/` itself so that the build
//! appearing triggers a rebuild (a missing watched path would rebuild every time).
fn main() {
    let dist = std::path::Path::new("../../web/dist");
    if dist.exists() {
        println!("cargo:rerun-if-changed=../../web/dist");
    } else {
        println!("cargo:rerun-if-changed=../../web/package.json");
        println!("cargo:rerun-if-changed=../../web");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
