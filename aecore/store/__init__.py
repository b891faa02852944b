"""The run store: one folder per trained run (`runs.py`), how its files are read and checked (`format.py`,
`weights.py`), and every size bound the store and the configs keep (`limits.py`). Empty on purpose: the configs
import `limits` alone, and importing the package must not pull in the rest."""
