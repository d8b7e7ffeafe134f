"""``python -m licences`` is the demo issuer too (the same as ``python -m licences.issuer``)."""

from licences.issuer import main

main()
