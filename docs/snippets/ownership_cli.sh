recovery-ops list --owner U0123ABC      # what U0123ABC took (every row of `recovery-ops list` names its owner)
recovery-ops list --owner none          # what nobody has taken
