"""imagepipe's Lambda code: the image core, the API and the processor, zip-deployable."""
