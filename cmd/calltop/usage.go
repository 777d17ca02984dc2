package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// usageTemplate is cobra's own with one change: a command's NATS flags
// (natsFlags: the server, the prefix, the security options) come in a
// section of their own after its other flags. They are the same on every
// command that talks to NATS, and among the agent's thirty flags they
// would hide the ones that are the agent's.
const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}{{if eq (len .Groups) 0}}

Available Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{else}}{{range $group := .Groups}}

{{.Title}}{{range $cmds}}{{if (and (eq .GroupID $group.ID) (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if not .AllChildCommandsHaveGroup}}

Additional Commands:{{range $cmds}}{{if (and (eq .GroupID "") (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{flagsIn . "" | trimTrailingWhitespaces}}{{with flagsIn . "nats"}}

NATS flags (the same on each command that talks to NATS):
{{. | trimTrailingWhitespaces}}{{end}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasHelpSubCommands}}

Additional help topics:{{range .Commands}}{{if .IsAdditionalHelpTopicCommand}}
  {{rpad .CommandPath .CommandPathPadding}} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

// groupAnnotation holds, on a flag, the section of -h it is listed in
// ("" for the command's own flags).
const groupAnnotation = "calltop_group"

func init() {
	cobra.AddTemplateFunc("flagsIn", flagsIn)
}

// flagsIn is the usage of c's local flags in section group.
func flagsIn(c *cobra.Command, group string) string {
	fs := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		g := f.Annotations[groupAnnotation]
		if (len(g) > 0 && g[0] == group) || (len(g) == 0 && group == "") {
			fs.AddFlag(f)
		}
	})
	return fs.FlagUsages()
}

// inGroup lists fs's flags registered by register in section group of -h.
func inGroup(fs *pflag.FlagSet, group string, register func()) {
	before := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) { before[f.Name] = true })
	register()
	fs.VisitAll(func(f *pflag.Flag) {
		if !before[f.Name] {
			_ = fs.SetAnnotation(f.Name, groupAnnotation, []string{group})
		}
	})
}
