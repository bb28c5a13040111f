# unit test programs: see tests/unit/*.mk
