"""The campaign plan at the edge: its wire format (YAML/JSON) and its stored form.

- `wire`: plain data as an office writes it (aliases, code-or-name references) -> a Plan;
- `yaml_file`: YAML text or a file (plus a 乡镇/村 scope table, `scope`) -> wire data -> a Plan;
- `codec`: the stored form a campaign's plan version keeps, to and from the typed Plan.

The typed Plan and the rules on it stay in `duban.domain.plan` and `duban.domain.plan_check`.
Import the module you need: this package imports nothing up front, so a service decoding a
stored plan never loads the wire parser, PyYAML or python-calamine. Only the edges (CLI, web,
the demo) read the wire format; import-linter keeps services, tasks and flows on `codec`.
"""
