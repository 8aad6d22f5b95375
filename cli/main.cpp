// Placeholder entry point while the CLI is being written (replaced in the same session).
int main() { return 0; }
