fn main() {
    println!("iobuf-bench: under construction");
}
