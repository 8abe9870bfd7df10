// Package floors has no code: its test checks that goodnet's packages keep to their floors
// (see DESIGN.md in the shared folder and README "How it is built") — engines are leaves,
// algorithms know neither an engine nor a file format, nothing links libhdf5 that should not,
// and internal/devprobe can initialise before gorgonia.org/cu.
package floors
