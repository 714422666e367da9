"""The recovery service's core: the integration contract, recoveries and their store, intake."""
