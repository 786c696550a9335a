pub fn main(
    _: crate::sandbox::World,
    _: &str,
    _: Option<&std::path::Path>,
    _: Option<&str>,
) -> Result<crate::exit::Code, crate::exit::Exit> {
    todo!()
}
